import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMORY_BUDGET_MB, measureCases } from '../bin/bench-memory.ts';
import { memoryCases } from '../bin/memory-cases.ts';

/**
 * The quick worst cases (the two issue files, max rate × max channels, crafted Opus frames that cost
 * nothing in bytes); `npm run bench -- --memory` runs all.
 */
const QUICK = [
  'issue-384k-590s.flac',
  'issue-192k-590s.flac',
  'max-rate-8ch.flac',
  'max-channels.wav',
  'empty-laces.webm',
  'max-channels-120ms.opus',
];
const TYPED = /^(angry|disgust|fear|happy|neutral|surprise|sad|[A-Z_]+)$/;

describe('memory budget: worst-case inputs in a child process with a capped heap', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ser-memory-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ends each in a prediction or a typed error, below the RSS budget', async () => {
    const cases = memoryCases().filter((c) => QUICK.includes(c.name));
    expect(cases).toHaveLength(QUICK.length);
    const rows = await measureCases(cases, dir, ['--max-old-space-size=256']);
    for (const row of rows) {
      expect(row.outcome, row.name).toMatch(TYPED);
      expect(row.peakRssMb, row.name).toBeLessThan(MEMORY_BUDGET_MB);
    }
    expect(rows.find((r) => r.name === 'issue-384k-590s.flac')?.outcome).toBe('TOO_LARGE');
    expect(rows.find((r) => r.name === 'issue-192k-590s.flac')?.outcome).toBe('TOO_LARGE');
    expect(rows.find((r) => r.name === 'empty-laces.webm')?.outcome).toBe('EMPTY_AUDIO');
    expect(rows.find((r) => r.name === 'max-channels-120ms.opus')?.outcome).toBe('TOO_LARGE');
  });
});
