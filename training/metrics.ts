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
