import { once } from 'node:events';
import { mkdir, mkdtemp, rm, stat, utimes } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirInUseError, lockDataDir } from '../bin/local/data-dir-lock.ts';
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

  it('a second stack on a data folder in use is refused, naming the folder and its lock; a stopped stack frees it', async () => {
    const dir = await dataFolder();
    running = await spawnLocalStack(dir);

    const second = await refusal(spawnLocalStack(dir));
    expect(second).toContain(
      `Not started: the data folder ${dir} is in use by another local stack (its lock ${join(dir, 'stack.lock')} ` +
        'was renewed in the last 10 s): stop it, or set SER_DATA_DIR to another folder',
    );
    expect(second).not.toMatch(/Database is closed|\n\s+at /);

    expect(await running.stop()).toBe(0);
    running = undefined;
    await expect(stat(join(dir, 'stack.lock'))).rejects.toThrow(/ENOENT/);
    running = await spawnLocalStack(dir);
    await running.stop();
    running = undefined;
  }, 180_000);

  it('a lock left by a stack that was killed (not renewed for over 10 s) is taken over', async () => {
    const dir = await dataFolder();
    await mkdir(join(dir, 'stack.lock'));
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'stack.lock'), minuteAgo, minuteAgo);
    running = await spawnLocalStack(dir);
    expect((await stat(join(dir, 'stack.lock'))).mtimeMs).toBeGreaterThan(minuteAgo.getTime());
    await running.stop();
    running = undefined;
  }, 120_000);

  it('of two claims on one folder at the same moment, exactly one wins', async () => {
    const dir = await dataFolder();
    const claims = await Promise.allSettled([lockDataDir(dir, () => {}), lockDataDir(dir, () => {})]);
    const won = claims.flatMap((claim) => (claim.status === 'fulfilled' ? [claim.value] : []));
    expect(won).toHaveLength(1);
    expect(claims.find((claim) => claim.status === 'rejected')).toMatchObject({
      reason: expect.any(DataDirInUseError),
    });
    await won[0]!();
  });

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
