/**
 * The reader of stdout went away (`ser predict … | head -1`): stop quietly with the exit code so far, as
 * Unix tools do, instead of an EPIPE stack trace and exit 1 (which means a file failed).
 *
 * A command with predictions in flight asks for `stdoutClosedSignal()` and returns once they have settled
 * and its ONNX sessions are released: `process.exit` while a session runs, in a worker or on libuv's
 * pool, can end the process in SIGABRT instead of the exit code (docs/dependencies.md, onnxruntime-node).
 * Any other command exits at once.
 */
const closed = new AbortController();
let commandStopsItself = false;

export function stdoutClosedSignal(): AbortSignal {
  commandStopsItself = true;
  return closed.signal;
}

export function onStdoutError(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EPIPE') throw error;
  if (closed.signal.aborted) return; // every write after the first refused one errs too
  closed.abort();
  if (!commandStopsItself) process.exit(process.exitCode ?? 0);
}
