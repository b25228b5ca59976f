import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Another running `npm start` (another process) holds this data folder. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `the data folder ${dataDir} is in use by another local stack (process ${pid}): stop it, or set SER_DATA_DIR to another folder`,
    );
    this.name = 'DataDirInUseError';
  }
}

/** Whether a process with this id runs (signal 0 checks without sending; EPERM: it runs as another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims the data folder for this process with a `stack.pid` file, and returns its release. Two stacks on
 * one folder would share dynalite's LevelDB, which the second cannot open: it failed later with an
 * unrelated "Database is closed". A file left by a stack that was killed (its process gone) is taken
 * over; this process may claim its own folder again (a test restarting a stack).
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, 'stack.pid');
  const claim = () => writeFile(path, String(process.pid), { flag: 'wx' });
  try {
    await claim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (holder !== process.pid && Number.isInteger(holder) && holder > 0 && isRunning(holder))
      throw new DataDirInUseError(dataDir, holder);
    await writeFile(path, String(process.pid));
  }
  return () => rm(path, { force: true });
}
