import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LAMBDAS = fileURLToPath(new URL('../lambdas/', import.meta.url));

/** Every relative import of the .ts files in one lambdas/ folder, as `file → import`. */
function importsOf(folder: string): string[] {
  return readdirSync(join(LAMBDAS, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) =>
      [...readFileSync(join(LAMBDAS, folder, file), 'utf8').matchAll(/from '(\.[^']+)'/g)].map(
        (match) => `${folder}/${file} → ${match[1]}`,
      ),
    );
}

describe('module boundaries of lambdas/', () => {
  it('app does not import training (training builds on app: one direction, no cycle)', () => {
    expect(importsOf('app').filter((line) => line.includes('/training/'))).toEqual([]);
  });

  it('core knows nothing of the app, training, handlers or AWS', () => {
    const core = importsOf('core');
    expect(core.filter((line) => /\/(app|training|handlers)\//.test(line))).toEqual([]);
    const sources = readdirSync(join(LAMBDAS, 'core'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => readFileSync(join(LAMBDAS, 'core', file), 'utf8'));
    expect(sources.filter((text) => text.includes("from '@aws-sdk/"))).toEqual([]);
  });
});
