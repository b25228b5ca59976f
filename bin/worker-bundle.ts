/**
 * The `ser predict --jobs N` worker as plain JavaScript. A worker thread does not inherit the tsx loader
 * of the main thread: registering it again cost each worker a loader thread and a TypeScript transform of
 * the whole core (~0.4 s of CPU per worker, measured with process.cpuUsage). One esbuild bundle of our
 * modules and the packages they use (resolving and loading a few hundred package files cost each worker
 * another third of its start) leaves each worker only its own work. What the inference Lambda keeps out
 * of its bundle stays out here too (lib/lambda-bundling.ts), and fvad-wasm, which reads its .wasm beside it.
 *
 * The bundle lives in node_modules/.cache/ser/ (no build output in the repository, no build step to
 * forget after `npm ci`) and is rebuilt when its options or any source it was built from changed
 * (esbuild's metafile lists the sources; their modification times are kept beside the bundle).
 */
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { INFERENCE_NODE_MODULES, LAMBDA_BUNDLING } from '../lib/lambda-bundling.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface BundleSpec {
  /** The TypeScript entry. */
  entry: string;
  /** The JavaScript bundle; `<outFile>.inputs.json` records what it was built from. */
  outFile: string;
  /** Where the entry's packages resolve from (the bundle must sit below the same node_modules). */
  root: string;
  /** Packages left as imports; without this list every package is. */
  external?: string[];
}

/** What a bundle was built from: its options and every source file with its modification time. */
interface BuildRecord {
  options: string;
  inputs: Record<string, number>;
}

const mtimeOf = async (path: string): Promise<number | undefined> => {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
};

const buildOptions = ({ entry, outFile, root, external }: BundleSpec) => ({
  absWorkingDir: root,
  entryPoints: [entry],
  outfile: outFile,
  bundle: true,
  platform: 'node' as const,
  format: 'esm' as const,
  target: 'node22',
  ...(external ? { external, banner: { js: LAMBDA_BUNDLING.banner } } : { packages: 'external' as const }),
});

/** True when the bundle exists, was built with these options, and none of its sources changed or vanished. */
async function isFresh(spec: BundleSpec): Promise<boolean> {
  let record: BuildRecord;
  try {
    record = JSON.parse(await readFile(`${spec.outFile}.inputs.json`, 'utf8')) as BuildRecord;
  } catch {
    return false;
  }
  if (record.options !== JSON.stringify(buildOptions(spec)) || !record.inputs) return false;
  if ((await mtimeOf(spec.outFile)) === undefined) return false;
  const now = await Promise.all(Object.keys(record.inputs).map((path) => mtimeOf(path)));
  return Object.values(record.inputs).every((mtime, i) => now[i] === mtime);
}

/** Builds beside the final names and renames, so that concurrent runs never load a half-written file. */
async function rebuild(spec: BundleSpec): Promise<void> {
  await mkdir(dirname(spec.outFile), { recursive: true });
  const temp = `${spec.outFile}.${process.pid}.${Date.now()}`;
  // Imported here: a run without workers never loads esbuild.
  const { build } = await import('esbuild');
  const options = buildOptions(spec);
  const result = await build({ ...options, outfile: `${temp}.mjs`, metafile: true, logLevel: 'silent' });
  const record: BuildRecord = { options: JSON.stringify(options), inputs: {} };
  for (const path of Object.keys(result.metafile.inputs)) {
    const absolute = join(spec.root, path);
    record.inputs[absolute] = (await mtimeOf(absolute)) ?? 0;
  }
  await writeFile(`${temp}.inputs.json`, JSON.stringify(record));
  await rename(`${temp}.mjs`, spec.outFile);
  await rename(`${temp}.inputs.json`, `${spec.outFile}.inputs.json`);
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
    external: [...INFERENCE_NODE_MODULES, '@echogarden/fvad-wasm'],
  });
