/**
 * The `ser predict --jobs N` worker as plain JavaScript. A worker thread does not inherit the tsx loader
 * of the main thread: registering it again cost each worker a loader thread and a TypeScript transform of
 * the whole core (~0.4 s of CPU per worker, measured with process.cpuUsage). Bundling our own modules with
 * esbuild once (packages stay imports from node_modules) leaves each worker only its own work.
 *
 * The bundle lives in node_modules/.cache/ser/ (no build output in the repository, no build step to
 * forget after `npm ci`) and is rebuilt when any source it was built from changed: esbuild's metafile
 * lists them, and their modification times are kept beside the bundle.
 */
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface BundleSpec {
  /** The TypeScript entry. */
  entry: string;
  /** The JavaScript bundle; `<outFile>.inputs.json` records what it was built from. */
  outFile: string;
  /** Where the entry's packages resolve from (the bundle must sit below the same node_modules). */
  root: string;
}

type Inputs = Record<string, number>;

const mtimeOf = async (path: string): Promise<number | undefined> => {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
};

/** True when the bundle exists and none of its sources changed (or vanished) since it was built. */
async function isFresh({ outFile }: BundleSpec): Promise<boolean> {
  let inputs: Inputs;
  try {
    inputs = JSON.parse(await readFile(`${outFile}.inputs.json`, 'utf8')) as Inputs;
  } catch {
    return false;
  }
  if ((await mtimeOf(outFile)) === undefined) return false;
  const now = await Promise.all(Object.keys(inputs).map((path) => mtimeOf(path)));
  return Object.values(inputs).every((mtime, i) => now[i] === mtime);
}

/** Builds beside the final names and renames, so that concurrent runs never load a half-written file. */
async function rebuild({ entry, outFile, root }: BundleSpec): Promise<void> {
  await mkdir(dirname(outFile), { recursive: true });
  const temp = `${outFile}.${process.pid}.${Date.now()}`;
  // Imported here: a run without workers never loads esbuild.
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile: `${temp}.mjs`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    // Packages are JavaScript already and load from node_modules as usual (fvad-wasm finds its .wasm).
    packages: 'external',
    metafile: true,
    logLevel: 'silent',
  });
  const inputs: Inputs = {};
  for (const path of Object.keys(result.metafile.inputs)) {
    const absolute = join(root, path);
    inputs[absolute] = (await mtimeOf(absolute)) ?? 0;
  }
  await writeFile(`${temp}.inputs.json`, JSON.stringify(inputs));
  await rename(`${temp}.mjs`, outFile);
  await rename(`${temp}.inputs.json`, `${outFile}.inputs.json`);
}

/** The bundle's URL, built first if missing or stale. */
export async function freshBundle(spec: BundleSpec): Promise<URL> {
  if (!(await isFresh(spec))) await rebuild(spec);
  return pathToFileURL(spec.outFile);
}

/** The `ser predict` worker's JavaScript entry (bin/predict-worker.ts, bundled). */
export const predictWorkerUrl = (): Promise<URL> =>
  freshBundle({
    entry: join(ROOT, 'bin/predict-worker.ts'),
    outFile: join(ROOT, 'node_modules/.cache/ser/predict-worker.mjs'),
    root: ROOT,
  });
