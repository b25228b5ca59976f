/**
 * Round 34's probe (models/ser-lstm/ROUND34.md): per-clip statistics and small classifiers, asking whether
 * voice-quality descriptors (voice-quality.ts) add anything on unseen RAVDESS voices, clean and through an
 * unseen channel, to the statistics the model's graph already computes (clip-probe.ts).
 *
 *   npx tsx training/voice-quality-probe.ts [--out models/ser-lstm/round34] [--rows /tmp/rows.json]
 *
 * Features are computed once and kept in `--rows` (JSON) so the classifiers can be re-run alone.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { createFeatureExtractor } from '../lambdas/core/features/extract.ts';
import {
  evaluateProbe,
  loadOrComputeProbeRows,
  PROBE_FOLDS,
  PROBE_SEEDS,
  type ProbeRow,
} from './clip-probe.ts';
import { DEFAULTS } from './pipeline.ts';
import { graphStatistics } from './stats-mlp.ts';
import { initTf } from './tf.ts';
import { createVoiceQualityExtractor, VOICE_QUALITY_NAMES } from './voice-quality.ts';

/** Per clip: B (graph statistics) and VQ (voice quality). */
interface Described {
  b: number[];
  vq: number[];
}
type Row = ProbeRow<Described>;

function describer(): (samples: Float32Array) => Described {
  const config = DEFAULTS.featureConfig;
  const extractor = createFeatureExtractor({ ...config, normalization: 'none' });
  const vq = createVoiceQualityExtractor(config);
  return (samples) => ({ b: graphStatistics(extractor.extract(samples)), vq: vq.describe(samples) });
}

type FeatureSet = 'B' | 'VQ' | 'B+VQ';
const pick = (v: Described, set: FeatureSet): number[] =>
  set === 'B' ? v.b : set === 'VQ' ? v.vq : [...v.b, ...v.vq];

/** Mean |channel − clean| of one value over RAVDESS clips, in units of the clean clips' standard deviation. */
function shiftOf(rows: Row[], value: (v: Described) => number): number {
  const ravdess = rows.filter((r) => r.testChannel);
  const clean = ravdess.map((r) => value(r.clean));
  const mean = clean.reduce((a, b) => a + b, 0) / clean.length;
  const sd = Math.sqrt(clean.reduce((a, b) => a + (b - mean) ** 2, 0) / clean.length) || 1;
  const shift = ravdess.reduce((a, r) => a + Math.abs(value(r.testChannel!) - value(r.clean)), 0);
  return shift / ravdess.length / sd;
}

/** How far each descriptor moves with the unseen channel, beside the graph's own MFCC and contour means. */
function channelShift(rows: Row[]): Array<{ name: string; shift: number }> {
  const mfccMeans = Array.from({ length: 40 }, (_, d) => shiftOf(rows, (v) => v.b[d]!)).sort((a, b) => a - b);
  return [
    ...VOICE_QUALITY_NAMES.map((name, d) => ({ name, shift: shiftOf(rows, (v) => v.vq[d]!) })),
    { name: 'B: MFCC means, median of 40', shift: (mfccMeans[19]! + mfccMeans[20]!) / 2 },
    { name: 'B: MFCC means, smallest', shift: mfccMeans[0]! },
    { name: 'B: MFCC means, largest', shift: mfccMeans[39]! },
    ...['pitch', 'voicing', 'level'].map((c, i) => ({
      name: `B: ${c} mean`,
      shift: shiftOf(rows, (v) => v.b[40 + i]!),
    })),
  ];
}

const opts = new Command()
  .option('--out <dir>', 'where probe.json goes', 'models/ser-lstm/round34')
  .option(
    '--rows <file>',
    'per-clip features: read if present, else computed and written',
    '/tmp/vq-rows.json',
  )
  .option('--shift-only', 'print the channel shifts only (no classifiers, nothing written)')
  .parse()
  .opts<{ out: string; rows: string; shiftOnly?: boolean }>();

await initTf();
const rows: Row[] = await loadOrComputeProbeRows(opts.rows, describer());
process.stderr.write(`${rows.length} clips\n`);
if (opts.shiftOnly) {
  for (const { name, shift } of channelShift(rows))
    console.log(`shift ${name.padEnd(28)} ${shift.toFixed(2)}`);
  process.exit(0);
}
const results: Record<string, unknown> = {};
for (const kind of ['linear', 'mlp'] as const) {
  for (const set of ['B', 'B+VQ', 'VQ'] as const) {
    const r = await evaluateProbe(rows, (v) => pick(v, set), kind);
    results[`${kind} ${set}`] = r;
    console.log(
      `${kind.padEnd(6)} ${set.padEnd(5)} clean ${r.clean.accuracy.toFixed(3)} (${r.clean.largest})  channel ${r.channel.accuracy.toFixed(3)} (${r.channel.largest})  n=${r.clips}`,
    );
  }
}
const shifts = channelShift(rows);
for (const { name, shift } of shifts) console.log(`shift ${name.padEnd(28)} ${shift.toFixed(2)}`);
await mkdir(opts.out, { recursive: true });
await writeFile(
  join(opts.out, 'probe.json'),
  `${JSON.stringify({ folds: PROBE_FOLDS, seeds: PROBE_SEEDS, results, channelShift: shifts }, null, 2)}\n`,
);
