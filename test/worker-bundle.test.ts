import { statSync } from 'node:fs';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBundle } from '../bin/worker-bundle.ts';

describe('the prebundled worker (bin/worker-bundle.ts)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ser-worker-bundle-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is rebuilt when a module it imports or its options change, and reused while none does', async () => {
    // Prepare: an entry that imports a second TypeScript module.
    const spec = { entry: join(dir, 'entry.ts'), outFile: join(dir, 'out/entry.mjs'), root: dir };
    await writeFile(
      spec.entry,
      "import { value } from './value.ts';\nexport const answer: number = value;\n",
    );
    const valueFile = join(dir, 'value.ts');
    await writeFile(valueFile, 'export const value = 1;\n');
    const load = async () => (await import(`${(await freshBundle(spec)).href}?${Math.random()}`)).answer;

    // Act, Assess: built on first use; unchanged sources reuse it; a changed import rebuilds it.
    expect(await load()).toBe(1);
    const first = statSync(spec.outFile).mtimeMs;
    await freshBundle(spec);
    expect(statSync(spec.outFile).mtimeMs).toBe(first);
    await writeFile(valueFile, 'export const value = 2;\n');
    const later = new Date(Date.now() + 5000);
    await utimes(valueFile, later, later); // a distinct mtime even on a coarse-grained file system
    expect(await load()).toBe(2);
    const rebuilt = statSync(spec.outFile).mtimeMs;
    await freshBundle({ ...spec, external: [] }); // other options: built again
    expect(statSync(spec.outFile).mtimeMs).not.toBe(rebuilt);
  });
});
