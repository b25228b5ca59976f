import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { UPLOAD_EXTENSIONS } from '../lambdas/core/audio/formats.ts';
import { isSerError } from '../lambdas/core/errors.ts';
import type { Predictor } from '../lambdas/core/predict.ts';
import type { PredictionResult, PredictOptions } from '../lambdas/core/types.ts';

/** Extensions a folder walk picks up (the one accepted-format list); files named on the command line are tried whatever their name. */
const AUDIO_EXTENSIONS = new Set(UPLOAD_EXTENSIONS.map((e) => `.${e}`));

export type FileOutcome =
  | { file: string; result: PredictionResult }
  | { file: string; error: { code: string; message: string } };

/** A file that could not be read (missing, a folder, no permission): its row, not the whole run. */
export const UNREADABLE_FILE = 'UNREADABLE_FILE';

export const unreadable = (file: string, error: unknown): FileOutcome => ({
  file,
  error: { code: UNREADABLE_FILE, message: error instanceof Error ? error.message : String(error) },
});

/**
 * The files under `path` (itself if it is not a folder), sorted by name. Symbolic links are followed —
 * to files and to folders — and a folder already walked (by its real path) is not walked again, so a
 * link back to an ancestor cannot loop.
 */
export async function* walkAudioFiles(
  path: string,
  visited: Set<string> = new Set(),
): AsyncGenerator<string> {
  const info = await stat(path); // follows links
  if (!info.isDirectory()) {
    yield path;
    return;
  }
  const real = await realpath(path);
  if (visited.has(real)) return;
  visited.add(real);
  const entries = (await readdir(path)).sort((a, b) => a.localeCompare(b));
  for (const name of entries) {
    const child = join(path, name);
    let childInfo: Awaited<ReturnType<typeof stat>>;
    try {
      childInfo = await stat(child);
    } catch {
      continue; // a dangling link or a file removed meanwhile: nothing to predict
    }
    if (childInfo.isDirectory()) yield* walkAudioFiles(child, visited);
    else if (AUDIO_EXTENSIONS.has(extname(name).toLowerCase())) yield child;
  }
}

/** Reads and predicts one file; bad input becomes an error outcome, anything else (a bug) is thrown. */
export async function predictFile(
  predictor: Predictor,
  file: string,
  name: string,
  maxDurationSec: number,
  speaker?: PredictOptions['speaker'],
): Promise<FileOutcome> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    return unreadable(name, error);
  }
  try {
    return { file: name, result: await predictor.predict(bytes, { maxDurationSec, speaker }) };
  } catch (error) {
    if (!isSerError(error)) throw error;
    return { file: name, error: error.toJSON() };
  }
}
