import type { VariantResult } from './adaptive.ts';

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Accuracy after 0, 1, 3, 10, 30 earlier clips, one panel for balanced and one for 70 %-skewed streams:
 * the context-free model (grey, dashed) and each variant. The x axis is ordinal (the counts measured).
 */
export function adaptationCurvesSvg(title: string, results: VariantResult[]): string {
  const panel = (x0: number, name: string, pick: (r: VariantResult) => VariantResult['balanced']) => {
    const ks = pick(results[0]!).map((p) => p.k);
    const all = results.flatMap((r) => pick(r).flatMap((p) => [p.accuracy, p.baseline]));
    const low = Math.floor(Math.min(...all) * 50) / 50 - 0.02;
    const high = Math.ceil(Math.max(...all) * 50) / 50 + 0.02;
    const x = (i: number) => x0 + 40 + (i / (ks.length - 1)) * 260;
    const y = (v: number) => 50 + (1 - (v - low) / (high - low)) * 220;
    const line = (values: number[], colour: string, dashed = false) =>
      `<polyline fill="none" stroke="${colour}" stroke-width="2"${dashed ? ' stroke-dasharray="5,3"' : ''} points="${values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`;
    const grid = [0, 1, 2, 3, 4].map((t) => {
      const v = low + ((high - low) * t) / 4;
      return `<line x1="${x0 + 40}" x2="${x0 + 300}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${x0 + 34}" y="${y(v) + 4}" text-anchor="end">${(100 * v).toFixed(0)}%</text>`;
    });
    const ticks = ks.map((k, i) => `<text x="${x(i)}" y="288" text-anchor="middle">${k}</text>`);
    return [
      `<text x="${x0 + 170}" y="42" text-anchor="middle" font-weight="bold">${esc(name)}</text>`,
      ...grid,
      ...ticks,
      `<text x="${x0 + 170}" y="305" text-anchor="middle">earlier clips of the speaker</text>`,
      line(
        pick(results[0]!).map((p) => p.baseline),
        '#888',
        true,
      ),
      ...results.map((r, i) =>
        line(
          pick(r).map((p) => p.accuracy),
          COLOURS[i % COLOURS.length]!,
        ),
      ),
    ].join('\n');
  };
  const legend = [
    `<line x1="640" x2="660" y1="60" y2="60" stroke="#888" stroke-width="2" stroke-dasharray="5,3"/><text x="664" y="64">context-free</text>`,
    ...results.map(
      (r, i) =>
        `<line x1="640" x2="660" y1="${80 + i * 18}" y2="${80 + i * 18}" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2"/><text x="664" y="${84 + i * 18}">${esc(r.variant.name)}</text>`,
    ),
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="320" viewBox="0 0 900 320" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
    panel(0, 'balanced streams', (r) => r.balanced),
    panel(310, '70 %-skewed streams (mean over dominant emotions)', (r) => r.skewed),
    ...legend,
    '</svg>',
  ].join('\n');
}
