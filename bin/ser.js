#!/usr/bin/env node
// `ser` entry point for `npx ser` / the package bin: runs bin/ser.ts as prebundled JavaScript
// (bin/bundle-cache.mjs: built on first use and whenever a source changed), or through tsx's loader
// where the bundle cannot be built (esbuild is a development dependency, like tsx).
import { fileURLToPath } from 'node:url';
import { freshBundle } from './bundle-cache.mjs';

const bundle = await freshBundle({
  entry: fileURLToPath(new URL('./ser.ts', import.meta.url)),
  root: fileURLToPath(new URL('..', import.meta.url)),
  name: 'ser-cli',
  splitting: true,
}).catch(() => undefined);
if (bundle) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./ser.ts');
}
