/**
 * Prebundled JavaScript for the `ser` CLI and its `--jobs` workers, cached in node_modules/.cache/ser/.
 * Plain JavaScript (typed by bundle-cache.d.mts) because bin/ser.js uses it before any TypeScript loader.
 *
 * Running TypeScript through tsx's loader costs a process a transform of every module it loads and a
 * resolution per import: about a third of a second of CPU for `ser predict` on one file. An esbuild bundle
 * is parsed once. The CLI's bundle is split at its dynamic imports, so a command loads only its own code
 * and packages (one file would import every package up front, onnxruntime for `ser --help` too).
 *
 * A bundle is rebuilt when its options or any source it was built from changed (esbuild's metafile lists
 * the sources; their modification times are kept in `<name>.json` beside the output): no build output in
 * the repository and no build step to forget after `npm ci`. Each build goes to a folder of its own and
 * `<name>.json` is replaced by a rename, so concurrent runs never load a half-written bundle.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Bump when the plugin or the output layout changes meaning: every cached bundle is then rebuilt. */
const BUILDER_VERSION = 3;
/** Output folders of earlier builds are removed once this old (a running process may still load chunks). */
const STALE_BUILD_MS = 60 * 60 * 1000;

const mtimeOf = async (path) => {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
};

/**
 * A bundle lives elsewhere than its sources: each TypeScript module's `import.meta.url` becomes the
 * module's own file URL (esbuild's `define` replaces the expression, never text in a string), so paths
 * computed from it (the bundled model folder, the repository root) still point where they did.
 */
const sourceImportMetaUrl = {
  name: 'source-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?ts$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const { transform } = await import('esbuild');
      const define = { 'import.meta.url': JSON.stringify(pathToFileURL(path).href) };
      const { code } = await transform(source, { loader: 'ts', format: 'esm', define, sourcefile: path });
      return { contents: code, loader: 'js' };
    });
  },
};

const buildOptions = ({ entry, root, external, banner, splitting }) => ({
  absWorkingDir: root,
  entryPoints: [entry],
  bundle: true,
  splitting: Boolean(splitting),
  platform: 'node',
  format: 'esm',
  target: 'node22',
  outExtension: { '.js': '.mjs' },
  ...(external ? { external } : { packages: 'external' }),
  ...(banner ? { banner: { js: banner } } : {}),
});

const optionsKey = (spec) => JSON.stringify({ builder: BUILDER_VERSION, ...buildOptions(spec) });
const cacheDir = (root) => join(root, 'node_modules', '.cache', 'ser');
const recordFile = (spec) => join(cacheDir(spec.root), `${spec.name}.json`);
const entryFileIn = (dir, entry) => join(dir, `${basename(entry).replace(/\.[cm]?ts$/, '')}.mjs`);

/** The recorded build when it exists, was made with these options, and none of its sources changed. */
async function freshRecord(spec) {
  let record;
  try {
    record = JSON.parse(await readFile(recordFile(spec), 'utf8'));
  } catch {
    return undefined;
  }
  if (record.options !== optionsKey(spec) || !record.inputs || !record.entryFile) return undefined;
  if ((await mtimeOf(record.entryFile)) === undefined) return undefined;
  const now = await Promise.all(Object.keys(record.inputs).map((path) => mtimeOf(path)));
  return Object.values(record.inputs).every((mtime, i) => now[i] === mtime) ? record : undefined;
}

/** Removes this bundle's output folders of earlier builds that are old enough to be unused. */
async function removeStaleBuilds(spec, keep) {
  const dir = cacheDir(spec.root);
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if (!name.startsWith(`${spec.name}-`) || path === keep) continue;
    const mtime = await mtimeOf(path);
    if (mtime !== undefined && Date.now() - mtime > STALE_BUILD_MS)
      await rm(path, { recursive: true, force: true });
  }
}

/** Builds into a new folder, then points `<name>.json` at it (by rename: atomic for concurrent runs). */
async function rebuild(spec) {
  const out = join(cacheDir(spec.root), `${spec.name}-${process.pid}-${Date.now()}`);
  await mkdir(out, { recursive: true });
  // Imported here: a run whose bundles are fresh never loads esbuild.
  const { build } = await import('esbuild');
  const result = await build({
    ...buildOptions(spec),
    outdir: out,
    metafile: true,
    logLevel: 'silent',
    plugins: [sourceImportMetaUrl],
  });
  const record = { options: optionsKey(spec), entryFile: entryFileIn(out, spec.entry), inputs: {} };
  for (const path of Object.keys(result.metafile.inputs)) {
    const absolute = join(spec.root, path);
    record.inputs[absolute] = (await mtimeOf(absolute)) ?? 0;
  }
  const temp = `${out}.json`;
  await writeFile(temp, JSON.stringify(record));
  await rename(temp, recordFile(spec));
  await removeStaleBuilds(spec, out).catch(() => undefined);
  return record;
}

/** The URL of the bundle's entry, built first if missing or stale. */
export async function freshBundle(spec) {
  const record = (await freshRecord(spec)) ?? (await rebuild(spec));
  return pathToFileURL(record.entryFile);
}
