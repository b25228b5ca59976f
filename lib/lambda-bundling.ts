/**
 * How the Lambda bundles are built, as plain data without aws-cdk-lib: `SerFunction` passes these to
 * NodejsFunction's esbuild, and `npm run bench` (bin/bench-cold.ts) builds its cold-start bundle from the
 * same values, so that the bench measures what the functions ship.
 */
import { fileURLToPath } from 'node:url';

const shim = (name: string) => fileURLToPath(new URL(`./builtin-shims/${name}.cjs`, import.meta.url));

/**
 * Builtins the bundles load with require() instead of `import` (the AWS SDK imports node:http): an ES
 * import makes Node build the module's ESM facade, which reads every export, and node:http's lazy
 * WebSocket/CloseEvent/MessageEvent getters then load undici: ~60 ms of CPU at every cold start against
 * ~10 ms required (process.cpuUsage, fresh processes, this machine under load). The shim requires `http`
 * without the prefix, which the alias does not catch.
 */
export const LAMBDA_ALIASES: Record<string, string> = { 'node:http': shim('http') };

/** esbuild options common to every function (ESM, minified, source maps, AWS SDK bundled). */
export const LAMBDA_BUNDLING = {
  target: 'node22',
  mainFields: ['module', 'main'],
  minify: true,
  sourceMap: true,
  // Maps give stack traces file:line; the sources themselves would triple the asset.
  sourcesContent: false,
  externalModules: [] as string[],
  // CommonJS dependencies call require() inside the ESM bundle.
  esbuildArgs: Object.fromEntries(
    Object.entries(LAMBDA_ALIASES).map(([name, path]) => [`--alias:${name}`, path]),
  ) as Record<string, string>,
  banner:
    "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
} as const;

/** The functions' NODE_OPTIONS: stack traces through the source maps. */
export const LAMBDA_NODE_OPTIONS = '--enable-source-maps';

/**
 * Packages the inference function ships in its asset's node_modules instead of in the bundle (esbuild
 * leaves their imports alone): onnxruntime-node for its native binary, and every audio decoder package
 * because each is imported on first use only (lambdas/core/audio/decode.ts, codec-packages.ts) — inside a
 * single-file bundle their code was parsed at every cold start, WAV or not (the MP4/WebM decoders ~2.5 MB,
 * the FLAC/MP3/Vorbis/Opus ones ~300 KB). Their own dependencies come with them (codec-parser, which the
 * FLAC and Vorbis packages import).
 */
export const INFERENCE_NODE_MODULES = [
  'onnxruntime-node',
  '@audio/decode-mp4',
  '@audio/decode-webm',
  '@wasm-audio-decoders/flac',
  'mpg123-decoder',
  '@wasm-audio-decoders/ogg-vorbis',
  'opus-decoder',
];
