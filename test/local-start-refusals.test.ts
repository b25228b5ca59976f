import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type LocalStackProcess, spawnLocalStack } from './helpers/local-stack-process.ts';

/** What a start that cannot run prints instead of a stack trace (bin/local.ts, bin/local/data-dir-lock.ts). */
describe('npm start refuses, in one line, what it cannot run', () => {
  const folders: string[] = [];
  let running: LocalStackProcess | undefined;
  afterAll(async () => {
    await running?.stop();
    await Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true })));
  });
  const dataFolder = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ser-start-'));
    folders.push(dir);
    return dir;
  };
  const refusal = (start: Promise<LocalStackProcess>) =>
    start.then(
      () => 'started',
      (error: Error) => error.message,
    );

  it('a second stack on a data folder in use is refused, naming the folder and the process; a stopped stack frees it', async () => {
    const dir = await dataFolder();
    running = await spawnLocalStack(dir);
    const pid = Number(await readFile(join(dir, 'stack.pid'), 'utf8'));

    const second = await refusal(spawnLocalStack(dir));
    expect(second).toContain(
      `Not started: the data folder ${dir} is in use by another local stack (process ${pid}): stop it, or set SER_DATA_DIR to another folder`,
    );
    expect(second).not.toMatch(/Database is closed|\n\s+at /);

    expect(await running.stop()).toBe(0);
    running = undefined;
    await expect(readFile(join(dir, 'stack.pid'))).rejects.toThrow(/ENOENT/);
    running = await spawnLocalStack(dir);
    await running.stop();
    running = undefined;
  }, 180_000);

  it('a data folder left locked by a stack that was killed (its process gone) is taken over', async () => {
    const dir = await dataFolder();
    await writeFile(join(dir, 'stack.pid'), '2147483646'); // no such process
    running = await spawnLocalStack(dir);
    expect(Number(await readFile(join(dir, 'stack.pid'), 'utf8'))).not.toBe(2147483646);
    await running.stop();
    running = undefined;
  }, 120_000);

  it('a port in use is refused with the variable to change, not an EADDRINUSE stack trace', async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as { port: number };
    try {
      const message = await refusal(
        spawnLocalStack(await dataFolder(), 'k'.repeat(8), { PORT: String(port) }),
      );
      expect(message).toContain(
        `Not started: port ${port} on 127.0.0.1 is in use (another local stack?): set PORT, S3_PORT or DYNAMODB_PORT`,
      );
      expect(message).not.toMatch(/\n\s+at /);
    } finally {
      taken.close();
    }
  }, 120_000);
});
