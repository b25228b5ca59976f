/** A classification report as scikit-learn prints it, plus the confusion matrix (rows = true labels). */
export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Metrics {
  accuracy: number;
  macroF1: number;
  weightedF1: number;
  macro: ClassMetrics;
  weighted: ClassMetrics;
  perClass: Record<string, ClassMetrics>;
  labels: string[];
  confusion: number[][];
  support: number;
}

const round = (x: number) => Math.round(x * 10000) / 10000;

export function computeMetrics(labels: readonly string[], truth: number[], predicted: number[]): Metrics {
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < truth.length; i++) confusion[truth[i]!]![predicted[i]!]! += 1;
  const perClass: Record<string, ClassMetrics> = {};
  let correct = 0;
  const macro = { precision: 0, recall: 0, f1: 0 };
  const weighted = { precision: 0, recall: 0, f1: 0 };
  const present = labels.filter(
    (_, c) => confusion[c]!.some((v) => v > 0) || confusion.some((row) => row[c]! > 0),
  );
  for (let c = 0; c < k; c++) {
    const tp = confusion[c]![c]!;
    correct += tp;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedCount = confusion.reduce((a, row) => a + row[c]!, 0);
    // scikit-learn's zero_division=0: an undefined ratio counts as 0.
    const precision = predictedCount ? tp / predictedCount : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[labels[c]!] = { precision: round(precision), recall: round(recall), f1: round(f1), support };
    if (present.includes(labels[c]!)) {
      macro.precision += precision / present.length;
      macro.recall += recall / present.length;
      macro.f1 += f1 / present.length;
    }
    if (truth.length) {
      weighted.precision += (precision * support) / truth.length;
      weighted.recall += (recall * support) / truth.length;
      weighted.f1 += (f1 * support) / truth.length;
    }
  }
  return {
    accuracy: round(truth.length ? correct / truth.length : 0),
    macroF1: round(macro.f1),
    weightedF1: round(weighted.f1),
    macro: {
      precision: round(macro.precision),
      recall: round(macro.recall),
      f1: round(macro.f1),
      support: truth.length,
    },
    weighted: {
      precision: round(weighted.precision),
      recall: round(weighted.recall),
      f1: round(weighted.f1),
      support: truth.length,
    },
    perClass,
    labels: [...labels],
    confusion,
    support: truth.length,
  };
}

const f = (x: number) => x.toFixed(3);

/** Markdown: the classification report table and the confusion matrix table. */
export function metricsMarkdown(m: Metrics): string {
  const rows = m.labels
    .filter((l) => m.perClass[l]!.support > 0 || m.confusion.some((r) => r[m.labels.indexOf(l)]! > 0))
    .map((l) => {
      const c = m.perClass[l]!;
      return `| ${l} | ${f(c.precision)} | ${f(c.recall)} | ${f(c.f1)} | ${c.support} |`;
    });
  const report = [
    '| class | precision | recall | F1 | support |',
    '|---|---:|---:|---:|---:|',
    ...rows,
    `| **accuracy** | | | **${f(m.accuracy)}** | ${m.support} |`,
    `| macro avg | ${f(m.macro.precision)} | ${f(m.macro.recall)} | **${f(m.macro.f1)}** | ${m.support} |`,
    `| weighted avg | ${f(m.weighted.precision)} | ${f(m.weighted.recall)} | ${f(m.weighted.f1)} | ${m.support} |`,
  ];
  const confusion = [
    `| true ↓ / predicted → | ${m.labels.join(' | ')} |`,
    `|---|${m.labels.map(() => '---:').join('|')}|`,
    ...m.labels.map(
      (l, i) =>
        `| **${l}** | ${m.confusion[i]!.map((v, j) => (i === j ? `**${v}**` : String(v))).join(' | ')} |`,
    ),
  ];
  return `${report.join('\n')}\n\nConfusion matrix (rows: true emotion, columns: predicted):\n\n${confusion.join('\n')}\n`;
}

/** Plain text for the terminal, like scikit-learn's `classification_report` + the confusion matrix. */
export function metricsText(m: Metrics): string {
  const width = Math.max(12, ...m.labels.map((l) => l.length + 2));
  const pad = (s: string, n = width) => s.padStart(n);
  const lines = [
    `${pad('')}${pad('precision', 11)}${pad('recall', 9)}${pad('f1-score', 10)}${pad('support', 9)}`,
    '',
  ];
  for (const l of m.labels) {
    const c = m.perClass[l]!;
    lines.push(
      `${pad(l)}${pad(f(c.precision), 11)}${pad(f(c.recall), 9)}${pad(f(c.f1), 10)}${pad(String(c.support), 9)}`,
    );
  }
  lines.push('');
  lines.push(`${pad('accuracy')}${pad('', 20)}${pad(f(m.accuracy), 10)}${pad(String(m.support), 9)}`);
  for (const [name, c] of [
    ['macro avg', m.macro],
    ['weighted avg', m.weighted],
  ] as const) {
    lines.push(
      `${pad(name)}${pad(f(c.precision), 11)}${pad(f(c.recall), 9)}${pad(f(c.f1), 10)}${pad(String(c.support), 9)}`,
    );
  }
  lines.push('', 'confusion matrix (rows true, columns predicted):');
  lines.push(`${pad('')}${m.labels.map((l) => pad(l.slice(0, 8), 9)).join('')}`);
  m.labels.forEach((l, i) => {
    lines.push(`${pad(l)}${m.confusion[i]!.map((v) => pad(String(v), 9)).join('')}`);
  });
  return lines.join('\n');
}

/**
 * Collapse detector: the share of predictions that go to the most-predicted class when every true class
 * counts equally (each row of the confusion matrix normalised to its support), i.e. what a balanced test
 * set would show. 1/labels is perfectly even; above `COLLAPSE_SHARE` the model is collapsing onto one class.
 */
export function largestClassShare(confusion: number[][]): { label: number; share: number } {
  const rows = confusion.filter((row) => row.some((v) => v > 0));
  const k = confusion.length;
  const shares = new Array<number>(k).fill(0);
  for (const row of rows) {
    const support = row.reduce((a, b) => a + b, 0);
    for (let c = 0; c < k; c++) shares[c]! += row[c]! / support / rows.length;
  }
  let label = 0;
  for (let c = 1; c < k; c++) if (shares[c]! > shares[label]!) label = c;
  return { label, share: round(shares[label] ?? 0) };
}

/** The issue's line: no class above 40 % of the predictions on a balanced test set. */
export const COLLAPSE_SHARE = 0.4;

/** One line for reports and `npm run evaluate`: the largest class share and whether it is a collapse. */
export function collapseText(m: Metrics): string {
  const { label, share } = largestClassShare(m.confusion);
  const flag = share > COLLAPSE_SHARE ? ` — COLLAPSE (over ${COLLAPSE_SHARE * 100} %)` : '';
  return `largest predicted class on a balanced set: ${m.labels[label]} ${(share * 100).toFixed(1)} %${flag}`;
}

export interface ReliabilityBin {
  low: number;
  high: number;
  count: number;
  confidence: number;
  accuracy: number;
}

/** Confidence (max probability) vs accuracy in `bins` equal-width bins, and the expected calibration error. */
export function reliability(
  probabilities: Float32Array,
  truth: number[],
  labelCount: number,
  bins = 10,
): { ece: number; bins: ReliabilityBin[] } {
  const table = Array.from({ length: bins }, (_, b) => ({
    low: b / bins,
    high: (b + 1) / bins,
    count: 0,
    confidence: 0,
    accuracy: 0,
  }));
  truth.forEach((t, r) => {
    let best = 0;
    for (let l = 1; l < labelCount; l++)
      if (probabilities[r * labelCount + l]! > probabilities[r * labelCount + best]!) best = l;
    const p = probabilities[r * labelCount + best]!;
    const bin = table[Math.min(bins - 1, Math.floor(p * bins))]!;
    bin.count++;
    bin.confidence += p;
    bin.accuracy += best === t ? 1 : 0;
  });
  let ece = 0;
  for (const bin of table) {
    if (bin.count === 0) continue;
    ece += (Math.abs(bin.accuracy - bin.confidence) / truth.length) * 1;
    bin.confidence /= bin.count;
    bin.accuracy /= bin.count;
  }
  return { ece: round(ece), bins: table };
}

/** Mean negative log-likelihood of the true labels after temperature `t` (softmax(log p / t)). */
function temperatureNll(probabilities: Float32Array, truth: number[], labelCount: number, t: number): number {
  let sum = 0;
  truth.forEach((label, r) => {
    let max = -Infinity;
    for (let l = 0; l < labelCount; l++)
      max = Math.max(max, Math.log(Math.max(probabilities[r * labelCount + l]!, 1e-12)) / t);
    let z = 0;
    for (let l = 0; l < labelCount; l++)
      z += Math.exp(Math.log(Math.max(probabilities[r * labelCount + l]!, 1e-12)) / t - max);
    sum -= Math.log(Math.max(probabilities[r * labelCount + label]!, 1e-12)) / t - max - Math.log(z);
  });
  return sum / (truth.length || 1);
}

/**
 * The temperature that minimises the negative log-likelihood of held-out predictions (Guo et al. 2017):
 * golden-section search on log t in [0.25, 10] (the NLL is unimodal in t).
 */
export function fitTemperature(probabilities: Float32Array, truth: number[], labelCount: number): number {
  let a = Math.log(0.25);
  let b = Math.log(10);
  const g = (Math.sqrt(5) - 1) / 2;
  const nll = (x: number) => temperatureNll(probabilities, truth, labelCount, Math.exp(x));
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  for (let i = 0; i < 60; i++) {
    if (nll(c) < nll(d)) b = d;
    else a = c;
    c = b - g * (b - a);
    d = a + g * (b - a);
  }
  return Math.round(Math.exp((a + b) / 2) * 1000) / 1000;
}
