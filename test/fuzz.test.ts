import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaseRecord, DEFAULT_SEED, runFuzz, summarize, toRecord } from '../bin/fuzz-run.ts';
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
    predicted = records.filter((r) => r.outcome === 'prediction').slice(0, 2);
  }, 180_000);

  let predicted: CaseRecord[] = [];
  it('kills a child still working at the time limit, reports a hang with the case index and keeps the file', async () => {
    // Prepare: cases that predicted above, so each needs far more than 1 ms of CPU.
    expect(predicted).toHaveLength(2);
    const only = predicted.map((r) => r.index);

    // Act
    const records = await runFuzz({ seed: DEFAULT_SEED, count: 0, timeLimitMs: 1, jobs: 1, crashDir, only });

    // Assess
    expect(records.map((r) => [r.index, r.verdict])).toEqual(only.map((i) => [i, 'hang']));
    const files = await readdir(crashDir);
    for (const r of records) expect(files).toContain(`seed${DEFAULT_SEED}-case${r.index}-${r.format}.json`);
  }, 120_000);
});

describe('fuzzer verdicts', () => {
  const base = { index: 3, source: 'x.wav', format: 'wav' as const, kind: 'bit-flip', detail: '' };

  it.each([
    [{ result: 'prediction', emotion: 'sad' }, 100, 'ok'],
    [{ result: 'typed', code: 'CORRUPT_AUDIO', message: '', cause: 'TypeError in codec-parser' }, 100, 'ok'],
    [{ result: 'typed', code: 'CORRUPT_AUDIO', message: '', cause: 'RangeError in core' }, 100, 'untyped'],
    [{ result: 'untyped', name: 'TypeError', message: 'x is undefined' }, 100, 'untyped'],
    [{ result: 'prediction', emotion: 'sad' }, 401, 'over-budget'],
  ] as const)('%j at %d MB is %s', (outcome, peakRssMb, verdict) => {
    const record = toRecord(
      base,
      { kind: 'reply', reply: { index: 3, outcome, ms: 1, cpuMs: 1, peakRssMb } },
      1,
    );
    expect(record.verdict).toBe(verdict);
  });
});
