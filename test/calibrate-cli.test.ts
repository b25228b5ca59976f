import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const HELD_OUT = join(ROOT, 'test', 'fixtures', 'tess-heldout');

type Failure = { code: number; stderr: string };

describe('training/calibrate.ts (temperature of an existing package)', () => {
  let pkg: string;
  const calibrate = (...args: string[]) =>
    run(TSX, ['training/calibrate.ts', '--model', pkg, ...args], { cwd: ROOT });
  /** With the new version every recalibration must name. */
  const recalibrate = (...args: string[]) => calibrate('--version', '1.6.0-recalibrated', ...args);
  const failure = (...args: string[]) =>
    recalibrate(...args).then(
      () => undefined,
      (error: Failure) => error,
    );
  const metadata = async () => readFile(join(pkg, 'metadata.json'), 'utf8');
  /** Rewrites the copy's splits.json with these sets. */
  const recordSets = (sets: Record<string, Array<{ path: string; sha1: string }>>) =>
    writeFile(join(pkg, 'splits.json'), JSON.stringify({ sets }));

  beforeEach(async () => {
    // A copy of the shipped package: it trains on every voice, so it has no held-out actor set.
    pkg = await mkdtemp(join(tmpdir(), 'ser-calibrate-'));
    for (const part of ['model.onnx', 'metadata.json', 'splits.json', 'figures'])
      await cp(join(ROOT, 'models', 'ser-lstm', part), join(pkg, part), { recursive: true });
  });
  afterEach(async () => {
    await rm(pkg, { recursive: true, force: true });
  });

  it('refuses a set the package does not record (the default on a package without held-out actors)', async () => {
    const before = await metadata();

    const refused = await failure('--data', HELD_OUT);

    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toBe(
      `error: ${pkg}/splits.json has no set "ravdess-heldout-actors" (has: tess-random, all-test)\n`,
    );
    expect(await metadata()).toBe(before);
  }, 60_000);

  it('refuses a missing dataset folder and an empty set, each in one line', async () => {
    const before = await metadata();

    const noData = await failure('--set', 'tess-random', '--data', join(pkg, 'no-such-folder'));
    await recordSets({ 'ravdess-heldout-actors': [] });
    const empty = await failure('--data', HELD_OUT);

    expect(noData?.code).toBe(2);
    expect(noData?.stderr).toMatch(
      /^error: Dataset folder [^\n]*no-such-folder[^\n]* does not exist[^\n]*\n$/,
    );
    expect(empty).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^error: [^\n]*is empty: no clip to fit/),
    });
    expect(JSON.parse(await metadata()).calibration).toEqual(JSON.parse(before).calibration);
  }, 60_000);

  it('says "test clips of its training voices", not "held-out speakers", for a set of voices it trained on', async () => {
    const files = (await readdir(HELD_OUT)).filter((f) => f.endsWith('.flac'));
    const sha1 = async (f: string) =>
      createHash('sha1')
        .update(await readFile(join(HELD_OUT, f)))
        .digest('hex');
    await recordSets({
      'tess-random': await Promise.all(files.map(async (f) => ({ path: f, sha1: await sha1(f) }))),
    });

    await recalibrate('--set', 'tess-random', '--data', HELD_OUT);

    const { calibration, version } = JSON.parse(await metadata());
    expect(version).toBe('1.6.0-recalibrated');
    expect(calibration.fittedOn).toMatch(
      /^the package's own test clips of its training voices tess:OAF, tess:YAF \(7 clips, recorded set tess-random\)/,
    );
    expect(await readFile(join(pkg, 'figures', 'reliability.svg'), 'utf8')).not.toContain('held-out');
  }, 60_000);

  it("requires a new version: none, or the package's own, is refused before anything is written", async () => {
    const before = await metadata();
    const { version } = JSON.parse(before);
    const failed = (run: Promise<unknown>) =>
      run.then(
        () => undefined,
        (error: Failure) => error,
      );

    const none = await failed(calibrate('--set', 'tess-random', '--data', HELD_OUT));
    const same = await failed(calibrate('--version', version, '--set', 'tess-random', '--data', HELD_OUT));

    expect(none?.stderr).toMatch(/required option '--version <v>' not specified/);
    expect(same).toMatchObject({
      code: 2,
      stderr: `error: --version ${version} is the package's version: a recalibrated package needs a new one (a version names one package for good)\n`,
    });
    expect(await metadata()).toBe(before);
  }, 60_000);
});
