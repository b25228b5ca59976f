/**
 * `npx tsx training/calibration-candidates.ts <member.probs.json…>`: round 8 (models/ser-lstm/ROUND8.md).
 * Scores calibration families on an ensemble's pooled out-of-fold probabilities (the members' saved
 * probabilities averaged, as the graph averages them), each cross-fitted by actor fold: fitted on two
 * folds' clips, applied to the third's. Prints expected calibration error, accuracy and the largest class
 * share of each, and each family fitted on all clips.
 * - T: softmax(log p / T), what the packages ship;
 * - T + b: softmax(log p / T + b), one bias per class, L2 penalty 0.01 on b (Adam on the NLL);
 * - T + ε: (1 − ε)·softmax(log p / T) + ε / K (grid over ε, golden section over T, by NLL).
 */
import { readFile } from 'node:fs/promises';
import { applyTemperature } from '../lambdas/core/model/calibration.ts';
import { ensembleOf, type SavedProbabilities } from './ensemble-folds.ts';
import { computeMetrics, fitTemperature, largestClassShare, reliability } from './metrics.ts';

type Rows = Float32Array;
interface Family {
  name: string;
  fit(p: Rows, truth: number[], k: number): Record<string, number | number[]>;
  apply(p: Rows, k: number, params: Record<string, number | number[]>): Rows;
}

const logOf = (p: number) => Math.log(Math.max(p, 1e-12));

/** softmax(log p / T + b) of every row. */
function biased(p: Rows, k: number, t: number, b: number[]): Rows {
  const out = new Float32Array(p.length);
  for (let r = 0; r < p.length / k; r++) {
    const z = Array.from({ length: k }, (_, l) => logOf(p[r * k + l]!) / t + b[l]!);
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const sum = e.reduce((s, v) => s + v, 0);
    for (let l = 0; l < k; l++) out[r * k + l] = e[l]! / sum;
  }
  return out;
}

/** The NLL gradient of (b, log T) for softmax(log p / T + b), with the L2 term on b. */
function biasGradient(p: Rows, truth: number[], k: number, t: number, b: number[]): number[] {
  const q = biased(p, k, t, b);
  const g = new Array<number>(k + 1).fill(0);
  truth.forEach((y, r) => {
    for (let l = 0; l < k; l++) {
      const residual = q[r * k + l]! - (l === y ? 1 : 0);
      g[l]! += residual / truth.length;
      g[k]! -= (residual * logOf(p[r * k + l]!)) / t / truth.length;
    }
  });
  for (let l = 0; l < k; l++) g[l]! += 0.02 * b[l]!;
  return g;
}

function fitBias(p: Rows, truth: number[], k: number) {
  const params = [...new Array<number>(k).fill(0), Math.log(fitTemperature(p, truth, k))];
  const m = params.map(() => 0);
  const v = params.map(() => 0);
  for (let step = 1; step <= 3000; step++) {
    const g = biasGradient(p, truth, k, Math.exp(params[k]!), params.slice(0, k));
    params.forEach((_, i) => {
      m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * g[i]! ** 2;
      params[i]! -= (0.01 * (m[i]! / (1 - 0.9 ** step))) / (Math.sqrt(v[i]! / (1 - 0.999 ** step)) + 1e-8);
    });
  }
  return { temperature: Math.exp(params[k]!), bias: params.slice(0, k) };
}

function mixed(p: Rows, k: number, t: number, share: number): Rows {
  const q = p.slice();
  applyTemperature(q, k, t);
  for (let i = 0; i < q.length; i++) q[i] = (1 - share) * q[i]! + share / k;
  return q;
}

function mixedNll(p: Rows, truth: number[], k: number, t: number, share: number): number {
  const q = mixed(p, k, t, share);
  return -truth.reduce((sum, y, r) => sum + Math.log(q[r * k + y]!), 0) / truth.length;
}

function fitMixed(p: Rows, truth: number[], k: number) {
  let best = { temperature: 1, share: 0, nll: Number.POSITIVE_INFINITY };
  for (let share = 0; share < 0.5; share += 0.0025) {
    const nll = (x: number) => mixedNll(p, truth, k, Math.exp(x), share);
    let [a, b] = [Math.log(0.25), Math.log(10)];
    const g = (Math.sqrt(5) - 1) / 2;
    for (let i = 0; i < 40; i++) {
      const [c, d] = [b - g * (b - a), a + g * (b - a)];
      if (nll(c) < nll(d)) b = d;
      else a = c;
    }
    const temperature = Math.exp((a + b) / 2);
    const value = mixedNll(p, truth, k, temperature, share);
    if (value < best.nll) best = { temperature, share, nll: value };
  }
  return best;
}

const FAMILIES: Family[] = [
  {
    name: 'T',
    fit: (p, y, k) => ({ temperature: fitTemperature(p, y, k) }),
    apply: (p, k, { temperature }) => {
      const q = p.slice();
      applyTemperature(q, k, temperature as number);
      return q;
    },
  },
  {
    name: 'T + b',
    fit: fitBias,
    apply: (p, k, { temperature, bias }) => biased(p, k, temperature as number, bias as number[]),
  },
  {
    name: 'T + ε',
    fit: fitMixed,
    apply: (p, k, { temperature, share }) => mixed(p, k, temperature as number, share as number),
  },
];

const rowsOf = (p: Rows, k: number, rows: number[]) =>
  Float32Array.from(rows.flatMap((r) => [...p.subarray(r * k, (r + 1) * k)]));

/** Each fold calibrated by the family fitted on the other folds. */
function crossFitted(family: Family, p: Rows, truth: number[], foldOf: number[], k: number): Rows {
  const out = p.slice();
  for (const fold of new Set(foldOf)) {
    const others = foldOf.flatMap((f, r) => (f === fold ? [] : [r]));
    const own = foldOf.flatMap((f, r) => (f === fold ? [r] : []));
    const params = family.fit(
      rowsOf(p, k, others),
      others.map((r) => truth[r]!),
      k,
    );
    const calibrated = family.apply(rowsOf(p, k, own), k, params);
    own.forEach((r, i) => {
      out.set(calibrated.subarray(i * k, (i + 1) * k), r * k);
    });
  }
  return out;
}

function scored(labels: readonly string[], p: Rows, truth: number[]) {
  const k = labels.length;
  const predicted = truth.map((_, r) => {
    const row = [...p.subarray(r * k, (r + 1) * k)];
    return row.indexOf(Math.max(...row));
  });
  const metrics = computeMetrics(labels, truth, predicted);
  const largest = largestClassShare(metrics.confusion);
  return {
    ece: reliability(p, truth, k).ece,
    accuracy: metrics.accuracy,
    largest: `${labels[largest.label]} ${largest.share.toFixed(3)}`,
  };
}

const runs = await Promise.all(
  process.argv.slice(2).map(async (f) => JSON.parse(await readFile(f, 'utf8')) as SavedProbabilities),
);
const ensemble = ensembleOf('ensemble', runs);
const { labels } = ensemble;
const { truth, foldOf } = ensemble.clean;
const p = Float32Array.from(ensemble.clean.probabilities);
const result = {
  members: process.argv.slice(2),
  raw: scored(labels, p, truth),
  crossFitted: Object.fromEntries(
    FAMILIES.map((f) => [f.name, scored(labels, crossFitted(f, p, truth, foldOf, labels.length), truth)]),
  ),
  fittedOnAll: Object.fromEntries(FAMILIES.map((f) => [f.name, f.fit(p, truth, labels.length)])),
};
process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
