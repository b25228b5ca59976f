import { join } from 'node:path';
import lockfile from 'proper-lockfile';

/** How long a lock may go unrenewed before another start takes it over (a stack killed with SIGKILL). */
const STALE_MS = 10_000;

/** Another running local stack holds this data folder. */
export class DataDirInUseError extends Error {
  constructor(readonly dataDir: string) {
    super(
      `the data folder ${dataDir} is in use by another local stack (its lock ${lockPath(dataDir)} was renewed ` +
        `in the last ${STALE_MS / 1000} s): stop it, or set SER_DATA_DIR to another folder`,
    );
    this.name = 'DataDirInUseError';
  }
}

const lockPath = (dataDir: string) => join(dataDir, 'stack.lock');

/**
 * Claims the data folder for this stack and returns its release. Two stacks on one folder would share
 * dynalite's LevelDB, which the second cannot open: it failed later with an unrelated "Database is
 * closed". proper-lockfile makes the claim atomic (mkdir) and keeps renewing it; a lock left by a stack
 * that was killed goes stale after STALE_MS and is taken over (docs/dependencies.md). A lock that could
 * not be renewed in time (the machine slept) is logged, not fatal: the library's default would throw.
 */
export async function lockDataDir(
  dataDir: string,
  log: (line: string) => void,
): Promise<() => Promise<void>> {
  try {
    return await lockfile.lock(dataDir, {
      lockfilePath: lockPath(dataDir),
      stale: STALE_MS,
      onCompromised: (error) =>
        log(`data folder lock: ${error.message} (another start may take the folder over)`),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') throw new DataDirInUseError(dataDir);
    throw error;
  }
}
