import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LocalStackProcess {
  apiUrl: string;
  webUrl: string;
  s3Endpoint: string;
  bucket: string;
  apiKey: string;
  /** Everything the stack printed so far. */
  output: string[];
  /** Sends Ctrl-C (SIGINT) and resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, as an out-of-memory kill or a crash ends it: nothing of it runs on. Resolves once it exited. */
  kill(): Promise<void>;
}

/**
 * Runs `bin/local.ts` as `npm start` does, in its own process, on free ports (0) and the given data
 * folder, and reads the URLs from the lines it prints at start-up.
 */
export async function spawnLocalStack(
  dataDir: string,
  apiKey = 'e2e-test-key',
  env: Record<string, string> = {},
): Promise<LocalStackProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      S3_PORT: '0',
      DYNAMODB_PORT: '0',
      SER_DATA_DIR: dataDir,
      SER_API_KEY: apiKey,
      BUCKET: 'ser-e2e',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);

  const ready = new Promise<Record<string, string>>((resolve, reject) => {
    const found: Record<string, string> = {};
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        output.push(line);
        const match = /^(API|Web page|S3|API key):\s+(\S+)(?:\s+bucket (\S+))?/.exec(line);
        if (match) {
          found[match[1]!] = match[2]!;
          if (match[3]) found.bucket = match[3];
        }
        if (line.startsWith('Ctrl-C stops everything')) resolve(found);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    exited.then((code) =>
      reject(new Error(`local stack exited (${code}) before it was ready:\n${output.join('\n')}`)),
    );
  });
  const found = await ready;
  return {
    apiUrl: found.API!,
    webUrl: found['Web page']!,
    s3Endpoint: found.S3!,
    bucket: found.bucket!,
    apiKey: found['API key']!,
    output,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGINT');
      return exited;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls GET /predictions/{id} until it is finished; gives up after `attempts` polls. */
export async function waitForPrediction(
  stack: Pick<LocalStackProcess, 'apiUrl' | 'apiKey'>,
  id: string,
  attempts = 300,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < attempts; i++) {
    const response = await fetch(`${stack.apiUrl}/predictions/${id}`, {
      headers: { 'x-api-key': stack.apiKey },
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (body.status === 'SUCCEEDED' || body.status === 'FAILED') return body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`prediction ${id} did not finish after ${attempts} polls`);
}

/**
 * Reads results/<path>.json once the processor has written it (capped number of polls). s3rver writes a
 * file in place, so a GET racing the PUT can read a partial body: not ready yet (docs/dependencies.md).
 */
export async function readResult(
  s3: S3Client,
  bucket: string,
  key: string,
  attempts = 300,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < attempts; i++) {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return JSON.parse(await object.Body!.transformToString());
    } catch (error) {
      const notYet = error instanceof SyntaxError || (error instanceof Error && error.name === 'NoSuchKey');
      if (!notYet) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${key} was not written after ${attempts} polls`);
}
