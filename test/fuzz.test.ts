import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SEED, runFuzz, summarize } from '../bin/fuzz-run.ts';
import { ERROR_CODES } from '../lambdas/core/errors.ts';

/**
 * A few hundred cases of `npm run fuzz` (which runs thousands): the real decode → features → ONNX path in
 * child processes, each killed at the time limit. No timing is asserted: a slow machine only makes the
 * time limit matter less, never a case pass that should fail.
 */
const CASES = 300;

describe('mutation fuzzer (seeded, CI-sized)', () => {
  let crashDir: string;
  beforeAll(async () => {
    crashDir = await mkdtemp(join(tmpdir(), 'ser-fuzz-test-'));
  });
  afterAll(async () => {
    await rm(crashDir, { recursive: true, force: true });
  });

  it('ends every mutated file in a prediction or a typed error, within the memory budget, without a hang', async () => {
    // Prepare
    const options = { seed: DEFAULT_SEED, count: CASES, timeLimitMs: 10_000, jobs: 2, crashDir };

    // Act
    const records = await runFuzz(options);
    const summary = summarize(records);

    // Assess
    expect(summary.files).toBe(CASES);
    expect(summary.failures.map((f) => `${f.index}: ${f.outcome} ${f.detail} ${f.message}`)).toEqual([]);
    expect(await readdir(crashDir)).toEqual([]);
    expect(Object.keys(summary.byFormat).sort()).toEqual(
      ['aiff', 'flac', 'mp3', 'mp4', 'ogg-opus', 'ogg-vorbis', 'wav', 'webm'].sort(),
    );
    for (const outcome of Object.keys(summary.outcomes)) {
      expect(['prediction', ...ERROR_CODES]).toContain(outcome);
    }
    // Mutants that still decode reach the model, and damaged ones are refused: both paths are exercised.
    expect(summary.outcomes.prediction).toBeGreaterThan(0);
    expect(summary.outcomes.CORRUPT_AUDIO).toBeGreaterThan(0);
  }, 180_000);
});
