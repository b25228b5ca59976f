import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanDataset } from '../training/datasets.ts';
import { chooseHeldOutSpeakers, packageVersion } from '../training/pipeline.ts';
import { FIXTURES_DIR, tessFixtures } from './helpers/fixtures.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const TESS_HELDOUT_DIR = join(FIXTURES_DIR, 'tess-heldout');

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

  it('--model-version is refused before any clip is read when it cannot name a package (activation would 404)', async () => {
    const failure = await run(
      TSX,
      ['training/train.ts', '--model-version', '1.7.0 rc', '--data', join(ROOT, 'no-such-dataset')],
      { cwd: ROOT },
    ).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );

    expect(failure?.stderr).toContain(
      "option '--model-version <v>' argument '1.7.0 rc' is invalid. a model version is 1-64 letters, digits",
    );
  });

  it('the default --model-version is one per run (time and a random tag), not one per day, and --help says so', async () => {
    const at = new Date('2026-12-07T08:30:12.345Z');

    expect(packageVersion(['csv'], at, '1a2b')).toBe('csv-20261207T083012-1a2b');
    expect(packageVersion(['tess', 'ravdess'], at, 'job12345')).toBe('tess+ravdess-20261207T083012-job12345');
    const { stdout: help } = await run(TSX, ['training/train.ts', '--help'], { cwd: ROOT });
    expect(help.replace(/\s+/g, ' ')).toContain(
      '(default: <corpora>-<UTC time>-<4 random hex digits>, one per run)',
    );
  });
});

describe('npm run train on a folder of clips labelled by a labels.csv (a miniature run)', () => {
  let work: string;

  /** Fixture clips in `<work>/<name>/audio/`, with a labels.csv of `path,emotion,speaker` rows (plus `extra` rows). */
  const labelledFolder = async (
    name: string,
    clips: Array<[string, string, string]>,
    extra: string[] = [],
  ) => {
    const dir = join(work, name);
    await mkdir(join(dir, 'audio'), { recursive: true });
    for (const [source] of clips) await copyFile(source, join(dir, 'audio', basename(source)));
    const rows = clips.map(([source, emotion, speaker]) => `audio/${basename(source)},${emotion},${speaker}`);
    await writeFile(join(dir, 'labels.csv'), ['path,emotion,speaker', ...rows, ...extra].join('\n'));
    return dir;
  };

  /** The CLI with a tiny network; resolves with its exit code and output instead of throwing. */
  const train = (data: string, ...args: string[]) =>
    run(
      TSX,
      [
        'training/train.ts',
        ...['--data', data, '--out', join(work, 'package'), '--cache', join(work, 'cache')],
        ...['--epochs', '1', '--ensemble', '1', '--units', '4', '--hidden', '4', '--augment-copies', '0'],
        ...['--channel-copies', '0', '--tess-copies', '0,0', '--no-predictor-check', '--no-progress'],
        ...args,
      ],
      { cwd: ROOT },
    ).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ser-train-csv-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /**
   * Three speakers as in the training job's test (test/training-jobs-local.test.ts): ann and bob share the
   * TESS fixtures (every emotion trains), cy has the held-out ones; plus a calm row and a missing file.
   */
  const threeSpeakers = () => {
    const label = (name: string) => {
      const emotion = basename(name, '.flac').split('_').pop()!;
      return emotion === 'ps' ? 'surprised' : emotion;
    };
    const train = tessFixtures().map((f, i): [string, string, string] => [
      f.path,
      label(f.fileName),
      i % 2 ? 'bob' : 'ann',
    ]);
    const heldout = readdirSync(TESS_HELDOUT_DIR).map((name): [string, string, string] => [
      join(TESS_HELDOUT_DIR, name),
      label(name),
      'cy',
    ]);
    return labelledFolder(
      'three-speakers',
      [...train, ...heldout],
      ['audio/OAF_back_sad.flac,calm,ann', 'audio/missing.flac,sad,cy'],
    );
  };
  let threeSpeakerRun: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
  const trainThreeSpeakers = async () => {
    threeSpeakerRun ??= threeSpeakers().then((data) => train(data, '--corpora', 'csv'));
    return threeSpeakerRun;
  };

  it('--corpora csv prints what a training job lists in its datasetSummary: rows naming no file, unknown emotions', async () => {
    const { code, stderr } = await trainThreeSpeakers();

    expect(code).toBe(0);
    const lines = stderr.split('\n');
    expect(lines).toContain(`14 labelled clips in ${join(work, 'three-speakers')} (csv)`);
    expect(lines).toContain(
      'not used: 1 labels.csv row(s) naming no audio file (invalidRows): row 17 ./audio/missing.flac (no such audio file)',
    );
    expect(lines).toContain(
      'not used: 1 labels.csv row(s) with an emotion that is not ours (unknownLabels): ./audio/OAF_back_sad.flac (calm)',
    );
  }, 60_000);

  it("splits as a training job on the same folder would: the job's held-out speaker (chooseHeldOutSpeakers), not a random split", async () => {
    const { code, stderr } = await trainThreeSpeakers();
    const data = join(work, 'three-speakers');
    // What a training job on this folder holds out (training/job.ts calls the same function on its scan).
    const jobChoice = chooseHeldOutSpeakers((await scanDataset(data)).clips);
    const metadata = JSON.parse(await readFile(join(work, 'package', 'metadata.json'), 'utf8'));

    expect(code).toBe(0);
    expect(jobChoice).toEqual(['csv:./cy']);
    expect(stderr).toContain("held out whole (the training job's rule): csv:./cy\n");
    expect(stderr).not.toContain('random split of every clip');
    expect(metadata.training.split).toMatchObject({ name: 'multi-corpus', heldOutSpeakers: jobChoice });
    expect(Object.keys(metadata.metrics)).toContain('heldout-speakers');
  }, 60_000);

  it('without --corpora csv, says that csv is what to select (the folder has its labels.csv)', async () => {
    const data = await labelledFolder(
      'unselected',
      tessFixtures().map((f) => [f.path, f.tessLabel === 'ps' ? 'surprise' : f.tessLabel, 'ann']),
    );

    const refused = await train(data);

    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `error: Dataset folder ${data} has no labelled clips of tess, the corpora selected; it holds 7 clips labelled by a labels.csv (csv): select them with --corpora csv (or --corpora tess,csv)\n`,
    );
  });
});
