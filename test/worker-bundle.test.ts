import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBundle } from '../bin/bundle-cache.mjs';

describe('the prebundled CLI and worker (bin/bundle-cache.mjs)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ser-bundle-cache-'));
    await mkdir(join(dir, 'node_modules'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is rebuilt when a module it imports or its options change, and reused while none does', async () => {
    // Prepare: an entry that imports a second TypeScript module.
    const spec = { entry: join(dir, 'entry.ts'), root: dir, name: 'entry' };
    await writeFile(
      spec.entry,
      "import { value } from './value.ts';\nexport const answer: number = value;\n",
    );
    const valueFile = join(dir, 'value.ts');
    await writeFile(valueFile, 'export const value = 1;\n');
    const load = async (url: URL) => (await import(url.href)).answer;

    // Act, Assess: built on first use; unchanged sources reuse it; a changed import rebuilds it.
    const first = await freshBundle(spec);
    expect(await load(first)).toBe(1);
    expect((await freshBundle(spec)).href).toBe(first.href);
    await writeFile(valueFile, 'export const value = 2;\n');
    const later = new Date(Date.now() + 5000);
    await utimes(valueFile, later, later); // a distinct mtime even on a coarse-grained file system
    const second = await freshBundle(spec);
    expect(second.href).not.toBe(first.href);
    expect(await load(second)).toBe(2);
    expect((await freshBundle({ ...spec, external: [] })).href).not.toBe(second.href); // other options
  });

  it('splits at dynamic imports, and keeps each module its own import.meta.url', async () => {
    // Prepare: an entry that loads a module on demand; the module reports where it lives.
    const spec = { entry: join(dir, 'cli.ts'), root: dir, name: 'cli', splitting: true };
    await writeFile(spec.entry, "export const where = async () => (await import('./late.ts')).here;\n");
    await writeFile(join(dir, 'late.ts'), 'export const here: string = import.meta.url;\n');

    // Act
    const url = await freshBundle(spec);
    const { where } = await import(url.href);

    // Assess: the late module is a chunk of its own, and it still knows its source file.
    expect(await where()).toBe(new URL(`file://${join(dir, 'late.ts')}`).href);
  });
});
