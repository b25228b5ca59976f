import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

  it('--calibrate-on is read and checked before any clip is: a missing file or a JSON that is not a development run is refused', async () => {
    const train = (file: string) =>
      run(
        TSX,
        // A dataset folder that does not exist: only an up-front check fails on the file, not on the data.
        ['training/train.ts', '--calibrate-on', file, '--data', join(ROOT, 'no-such-dataset')],
        { cwd: ROOT },
      ).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );

    const missing = await train('/nonexistent.json');
    const metadata = await train('models/ser-lstm/metadata.json');

    expect(missing).toMatchObject({
      code: 2,
      stderr: 'error: --calibrate-on: cannot read /nonexistent.json (ENOENT)\n',
    });
    expect(metadata?.code).toBe(2);
    expect(metadata?.stderr).toMatch(
      /^error: --calibrate-on: \S+models\/ser-lstm\/metadata\.json is not a development run \(what training\/develop\.ts --out writes\): [^\n]+\n$/,
    );
  });

  it('--heldout refuses named speakers the data does not have, and a TESS-only model, instead of a random split that mixes voices', async () => {
    // A miniature run, so that without the check it would end (exit 0) in seconds rather than train.
    const out = await mkdtemp(join(tmpdir(), 'ser-train-heldout-'));
    const train = (...args: string[]) =>
      run(
        TSX,
        [
          'training/train.ts',
          ...['--data', join(ROOT, 'test', 'fixtures', 'tess'), '--out', out, '--cache', join(out, 'cache')],
          ...['--epochs', '1', '--ensemble', '1', '--units', '4', '--hidden', '4', '--augment-copies', '0'],
          ...['--channel-copies', '0', '--tess-copies', '0,0', '--no-predictor-check', ...args],
        ],
        { cwd: ROOT },
      ).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );

    const absent = await train('--corpora', 'tess,ravdess', '--heldout', 'ravdess:4');
    const tessOnly = await train('--corpora', 'tess', '--heldout', 'tess:OAF');
    await rm(out, { recursive: true, force: true });

    expect(absent?.code).toBe(2);
    expect(absent?.stderr).toContain(
      'error: --heldout: ravdess:4 not in the data (its speakers: tess:OAF, tess:YAF); name speakers it has, or --heldout none\n',
    );
    expect(tessOnly?.code).toBe(2);
    expect(tessOnly?.stderr).toContain('error: --heldout tess:OAF: a TESS-only model is split at random');
  });

  it('--epochs 0 is refused, and --help lists csv among the corpora', async () => {
    // No dataset folder: without the check it would fail on that instead, not train.
    // Caught at once: a rejection left pending while the next command runs is an unhandled error.
    const zero = run(TSX, ['training/train.ts', '--epochs', '0', '--data', join(ROOT, 'no-such-dataset')], {
      cwd: ROOT,
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    const { stdout: help } = await run(TSX, ['training/train.ts', '--help'], { cwd: ROOT });

    expect(await zero).toMatchObject({
      stderr: expect.stringContaining(
        "option '--epochs <n>' argument '0' is invalid. expected a positive integer",
      ),
    });
    expect(help.replace(/\s+/g, ' ')).toContain('comma-separated: tess, ravdess, emodb, cremad, csv');
  });
});
