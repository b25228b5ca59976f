/**
 * Round 39's probe (models/ser-lstm/ROUND39.md): the graph's per-clip statistics restricted to the first N
 * MFCCs, against all of them, with round 34's classifiers and folds (clip-probe.ts).
 *
 *   npx tsx training/mfcc-count-probe.ts [--out models/ser-lstm/round39] [--rows /tmp/mfcc-rows.json]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { createFeatureExtractor } from '../lambdas/core/features/extract.ts';
import { evaluateProbe, loadOrComputeProbeRows, PROBE_FOLDS, PROBE_SEEDS } from './clip-probe.ts';
import { DEFAULTS } from './pipeline.ts';
import { graphStatistics } from './stats-mlp.ts';
import { initTf } from './tf.ts';

const MFCCS = DEFAULTS.featureConfig.mfccCoefficients;
/** Frame channels after the MFCCs: pitch, voicing, level. */
const CONTOUR_CHANNELS = 3;
const CHANNELS = MFCCS + CONTOUR_CHANNELS;
/** The candidate first (it decides), then the reference, then the two reported beside them. */
const COUNTS = [20, MFCCS, 13, 30];

/**
 * graphStatistics' values with only MFCCs 0…n−1: of its mean, std and delta blocks (each CHANNELS wide)
 * the first n and the contour channels, and the contours' range and change at the end.
 */
function firstMfccs(stats: number[], n: number): number[] {
  const block = (b: number) => [
    ...stats.slice(b * CHANNELS, b * CHANNELS + n),
    ...stats.slice(b * CHANNELS + MFCCS, (b + 1) * CHANNELS),
  ];
  return [...block(0), ...block(1), ...block(2), ...stats.slice(3 * CHANNELS)];
}

const opts = new Command()
  .option('--out <dir>', 'where probe.json goes', 'models/ser-lstm/round39')
  .option(
    '--rows <file>',
    'per-clip statistics: read if present, else computed and written',
    '/tmp/mfcc-rows.json',
  )
  .parse()
  .opts<{ out: string; rows: string }>();

await initTf();
const extractor = createFeatureExtractor({ ...DEFAULTS.featureConfig, normalization: 'none' });
const rows = await loadOrComputeProbeRows(opts.rows, (samples) =>
  graphStatistics(extractor.extract(samples)),
);
if (rows[0]!.clean.length !== 3 * CHANNELS + 2 * CONTOUR_CHANNELS)
  throw new Error('graph statistics changed');
process.stderr.write(`${rows.length} clips\n`);
const results: Record<string, unknown> = {};
for (const kind of ['linear', 'mlp'] as const) {
  for (const n of COUNTS) {
    const r = await evaluateProbe(rows, (v) => firstMfccs(v, n), kind);
    results[`${kind} B${n}`] = { ...r, values: firstMfccs(rows[0]!.clean, n).length };
    console.log(
      `${kind.padEnd(6)} B${n} clean ${r.clean.accuracy.toFixed(3)} (${r.clean.largest})  channel ${r.channel.accuracy.toFixed(3)} (${r.channel.largest})  n=${r.clips}`,
    );
  }
}
await mkdir(opts.out, { recursive: true });
await writeFile(
  join(opts.out, 'probe.json'),
  `${JSON.stringify({ folds: PROBE_FOLDS, seeds: PROBE_SEEDS, results }, null, 2)}\n`,
);
