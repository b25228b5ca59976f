import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const HELD_OUT = join(ROOT, 'test', 'fixtures', 'tess-heldout');

type Result = Record<string, { accuracy: number; support: number; confusion: number[][] }>;

describe('npm run evaluate (the shipped model on a labelled folder)', () => {
  let cache: string;
  const evaluate = async (...args: string[]) => {
    const { stdout } = await run(
      TSX,
      [
        'training/evaluate.ts',
        '--model',
        'models/ser-lstm',
        '--data',
        HELD_OUT,
        '--cache',
        cache,
        '--json',
        ...args,
      ],
      { cwd: ROOT },
    );
    return Object.values(JSON.parse(stdout) as Result)[0]!;
  };

  beforeAll(async () => {
    cache = await mkdtemp(join(tmpdir(), 'ser-evaluate-'));
  });
  afterAll(async () => {
    await rm(cache, { recursive: true, force: true });
  });

  it('reports every clip of the folder over the 7 labels', async () => {
    const all = await evaluate();
    expect(all.support).toBe(7);
    expect(all.confusion).toHaveLength(7);
    expect(all.accuracy).toBe(1); // held-out TESS clips: the predictor test expects each one right too
  }, 60_000);

  it('--emotions keeps only those clips and lets the model choose among those labels only', async () => {
    const two = await evaluate('--emotions', 'angry,sad');
    expect(two.support).toBe(2);
    expect(two.confusion).toEqual([
      [1, 0],
      [0, 1],
    ]);
  }, 60_000);

  it('evaluates the bundled model when --model is not given', async () => {
    const { stdout } = await run(
      TSX,
      ['training/evaluate.ts', '--data', HELD_OUT, '--cache', cache, '--json'],
      {
        cwd: ROOT,
      },
    );
    expect(Object.values(JSON.parse(stdout) as Result)[0]).toEqual(await evaluate());
  }, 60_000);

  it('--adaptive takes --enable and --min-clips, and says why when no other speaker gives the population', async () => {
    const streamedAll = evaluate(
      '--adaptive',
      '--speakers',
      'tess:OAF,tess:YAF',
      '--enable',
      'pitch, shrink 3',
      '--version',
      '1.6.0-adapted',
    );
    await expect(streamedAll).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--adaptive needs clips of other speakers than the streamed ones/),
    });
  }, 60_000);

  it('--enable needs a new --version (it rewrites metadata.json, and a version names one package for good)', async () => {
    const enable = ['--adaptive', '--speakers', 'tess:OAF', '--enable', 'pitch, shrink 3'];
    await expect(evaluate(...enable)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--enable needs --version <new>/),
    });
    const { version } = JSON.parse(readFileSync(join(ROOT, 'models/ser-lstm/metadata.json'), 'utf8'));
    await expect(evaluate(...enable, '--version', version)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/is the package's version: give the adapted package a new one/),
    });
  }, 60_000);

  it('--emotions refuses a label the model does not have', async () => {
    await expect(evaluate('--emotions', 'angry,calm')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/"calm" is not a label of this model/),
    });
  }, 60_000);

  it('a missing model package is one error line, not a stack', async () => {
    const missing = run(TSX, ['training/evaluate.ts', '--model', '/nonexistent', '--data', HELD_OUT], {
      cwd: ROOT,
    });

    await expect(missing).rejects.toMatchObject({
      code: 2,
      stderr: 'error: No model package at /nonexistent (metadata.json unreadable)\n',
    });
  }, 60_000);

  it('refuses the --adaptive options without --adaptive instead of ignoring them', async () => {
    await expect(evaluate('--write', '--speakers', 'tess:OAF')).rejects.toMatchObject({
      code: 2,
      stderr: 'error: --speakers, --write only with --adaptive\n',
    });
    await expect(evaluate('--enable', 'pitch, shrink 3')).rejects.toMatchObject({
      code: 2,
      stderr: 'error: --enable only with --adaptive\n',
    });
  }, 60_000);
});
