/**
 * The Python reference pipeline (bench/reference.py) as a child process the bench calls clip by clip,
 * interleaved with its own predictions, so both see the same machine at the same moments.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../bench/reference.py', import.meta.url));
/** `SER_BENCH_PYTHON` first; Debian's packages (python3-torch …) live in /usr/bin/python3, not a pyenv. */
const CANDIDATES = [process.env.SER_BENCH_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string =>
  Boolean(c),
);

/** The first Python that imports torch, torchaudio and soundfile, with their versions; else why not. */
export function findPython(): { python: string; versions: string } | { missing: string } {
  const probe =
    'import sys, torch, torchaudio, soundfile; print(sys.version.split()[0], torch.__version__, torchaudio.__version__)';
  for (const python of CANDIDATES) {
    const result = spawnSync(python, ['-c', probe], { encoding: 'utf8' });
    if (result.status === 0) {
      const [py, torch, audio] = result.stdout.trim().split(' ');
      return { python, versions: `Python ${py}, torch ${torch}, torchaudio ${audio}` };
    }
  }
  return { missing: `no python3 with torch, torchaudio and soundfile (tried ${CANDIDATES.join(', ')})` };
}

export interface PythonReference {
  /** Milliseconds the reference took for clip `index` (timed inside Python, from bytes in memory). */
  run(index: number): Promise<number>;
  /** Stops the process and returns its peak RSS in MB. */
  stop(): Promise<number>;
}

/** Starts `reference.py serve` on the clips at `paths` (read into its memory) and waits until it is ready. */
export async function startPythonReference(
  python: string,
  paths: string[],
  dir: string,
): Promise<PythonReference> {
  const list = join(dir, 'clips.txt');
  await writeFile(list, `${paths.join('\n')}\n`);
  const child: ChildProcessWithoutNullStreams = spawn(python, [SCRIPT, 'serve', list], {
    env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
  });
  child.stderr.pipe(process.stderr);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const { value, done } = await lines.next();
    if (done) throw new Error('the Python reference stopped');
    return value;
  };
  const ready = await next();
  if (!ready.startsWith('ready')) throw new Error(`the Python reference said: ${ready}`);
  return {
    async run(index) {
      child.stdin.write(`${index}\n`);
      return Number((await next()).split(' ')[0]);
    },
    async stop() {
      child.stdin.write('quit\n');
      const rss = Number((await next()).split(' ')[1]);
      child.stdin.end();
      return rss;
    },
  };
}

/** Start → first prediction of a fresh `reference.py once <clip>` process, in ms. */
export function pythonColdStart(python: string, clipPath: string): number {
  const started = performance.now();
  const result = spawnSync(python, [SCRIPT, 'once', clipPath], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
  });
  if (result.status !== 0) throw new Error(`reference.py once failed: ${result.stderr.slice(-500)}`);
  return performance.now() - started;
}
