#!/usr/bin/env node
// `ser` entry point for `npx ser` / the package bin: run the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('./ser.ts');
