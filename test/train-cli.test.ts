import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

describe('npm run train (arguments checked before any clip is read)', () => {
  it('--heldout none without TESS is refused: its test part is TESS random fifth', async () => {
    const failure = await run(
      TSX,
      [
        'training/train.ts',
        '--corpora',
        'ravdess',
        '--heldout',
        'none',
        '--data',
        join(ROOT, 'test', 'fixtures'),
      ],
      { cwd: ROOT },
    ).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );

    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain(
      "error: --heldout none tests on TESS's random fifth: add tess to --corpora",
    );
  });
});
