import { deflateSync } from 'node:zlib';

/**
 * Pictures for the report as hand-built SVG strings (no browser, no canvas). Raster images (spectrograms)
 * are tiny PNGs encoded here with node:zlib and embedded as data URIs.
 */

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An 8-bit RGB PNG from `rgb` (width × height × 3, row-major, top row first). */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0; // filter: none
    Buffer.from(rgb.subarray(y * width * 3, (y + 1) * width * 3)).copy(raw, y * (width * 3 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Viridis-like colour map, t in [0, 1]. */
function colour(t: number): [number, number, number] {
  const stops: Array<[number, number, number]> = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i]!;
  const b = stops[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as [number, number, number];
}

export interface Series {
  name: string;
  values: number[];
  colour: string;
  dashed?: boolean;
}

/** A line chart (e.g. training curves) with axes, ticks and a legend. */
export function lineChart(
  title: string,
  xLabel: string,
  series: Series[],
  yRange?: [number, number],
): string {
  const width = 560;
  const height = 300;
  const left = 50;
  const right = 130;
  const top = 30;
  const bottom = 40;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const [yMin, yMax] = yRange ?? [Math.min(0, ...all), Math.max(...all) * 1.05 || 1];
  const n = Math.max(...series.map((s) => s.values.length));
  const x = (i: number) => left + (n <= 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const y = (v: number) => top + plotH - ((v - yMin) / (yMax - yMin || 1)) * plotH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = yMin + ((yMax - yMin) * k) / 4;
    parts.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`,
    );
  }
  const step = Math.max(1, Math.ceil(n / 10));
  for (let i = 0; i < n; i += step) {
    parts.push(`<text x="${x(i)}" y="${top + plotH + 15}" text-anchor="middle">${i + 1}</text>`);
  }
  parts.push(
    `<text x="${left + plotW / 2}" y="${height - 6}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`,
  );
  series.forEach((s, k) => {
    const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline points="${points}" fill="none" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`,
      `<line x1="${left + plotW + 10}" x2="${left + plotW + 30}" y1="${top + 10 + k * 18}" y2="${top + 10 + k * 18}" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`,
      `<text x="${left + plotW + 34}" y="${top + 14 + k * 18}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Confusion matrix heat map, rows normalised to recall, with counts in the cells. */
export function confusionSvg(title: string, labels: string[], matrix: number[][]): string {
  const cell = 52;
  const left = 90;
  const top = 70;
  const size = labels.length * cell;
  const width = left + size + 20;
  const height = top + size + 40;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<text x="${left + size / 2}" y="38" text-anchor="middle">predicted</text>`,
    `<text x="14" y="${top + size / 2}" transform="rotate(-90 14 ${top + size / 2})" text-anchor="middle">true</text>`,
  ];
  labels.forEach((l, j) => {
    parts.push(
      `<text x="${left + j * cell + cell / 2}" y="${top - 8}" text-anchor="middle">${esc(l)}</text>`,
    );
  });
  matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    parts.push(
      `<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${esc(labels[i]!)}</text>`,
    );
    row.forEach((v, j) => {
      const share = v / total;
      const [r, g, b] = colour(share);
      parts.push(
        `<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="rgb(${r},${g},${b})" stroke="white"/>`,
        `<text x="${left + j * cell + cell / 2}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" fill="${share > 0.6 ? 'black' : 'white'}">${v}</text>`,
      );
    });
  });
  parts.push(
    `<text x="${left}" y="${height - 12}" fill="#555">colour = share of the row (recall); numbers = clips</text>`,
    '</svg>',
  );
  return parts.join('\n');
}

/** Vertical bars (e.g. clips per emotion, a duration histogram). */
export function barChart(
  title: string,
  labels: string[],
  values: number[],
  xLabel = '',
  colourOf = '#3b528b',
): string {
  const barW = Math.max(14, Math.min(48, Math.floor(520 / labels.length)));
  const left = 50;
  const top = 30;
  const plotH = 200;
  const width = left + labels.length * barW + 20;
  const height = top + plotH + 60;
  const max = Math.max(...values, 1);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="10">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ];
  values.forEach((v, i) => {
    const h = (v / max) * plotH;
    const x = left + i * barW;
    parts.push(
      `<rect x="${x + 1}" y="${top + plotH - h}" width="${barW - 2}" height="${h}" fill="${colourOf}"/>`,
      `<text x="${x + barW / 2}" y="${top + plotH - h - 3}" text-anchor="middle">${v}</text>`,
      `<text x="${x + barW / 2}" y="${top + plotH + 12}" text-anchor="end" transform="rotate(-45 ${x + barW / 2} ${top + plotH + 12})">${esc(labels[i]!)}</text>`,
    );
  });
  parts.push(
    `<line x1="${left}" x2="${left + labels.length * barW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#888"/>`,
    `<text x="${left + (labels.length * barW) / 2}" y="${height - 4}" text-anchor="middle">${esc(xLabel)}</text>`,
    '</svg>',
  );
  return parts.join('\n');
}

export interface WaveformPanel {
  title: string;
  samples: Float32Array;
  sampleRate: number;
  /** Log-mel [frames × bands] row-major. */
  logMel: { frames: number; dims: number; data: Float32Array };
}

const WAVE_WIDTH = 360;
const SPECTROGRAM_WIDTH = 360;
const ROW_HEIGHT = 90;

/** The waveform's envelope as one polygon: per pixel column the highest and lowest sample, scaled to the peak. */
function waveformPolygon(samples: Float32Array, x0: number, mid: number): string {
  const columns = WAVE_WIDTH;
  const per = samples.length / columns;
  let peak = 1e-9;
  for (const s of samples) peak = Math.max(peak, Math.abs(s));
  const upper: string[] = [];
  const lower: string[] = [];
  for (let c = 0; c < columns; c++) {
    let lo = 0;
    let hi = 0;
    for (let i = Math.floor(c * per); i < Math.floor((c + 1) * per); i++) {
      lo = Math.min(lo, samples[i]!);
      hi = Math.max(hi, samples[i]!);
    }
    upper.push(`${x0 + c},${(mid - (hi / peak) * (ROW_HEIGHT / 2 - 2)).toFixed(1)}`);
    lower.unshift(`${x0 + c},${(mid - (lo / peak) * (ROW_HEIGHT / 2 - 2)).toFixed(1)}`);
  }
  return `<polygon points="${[...upper, ...lower].join(' ')}" fill="#3b528b"/>`;
}

/** The log-mel matrix as a base64 PNG, one pixel per frame and band, colour-scaled to its own range. */
function spectrogramPng({ frames, dims, data }: WaveformPanel['logMel']): string {
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const rgb = new Uint8Array(frames * dims * 3);
  for (let f = 0; f < frames; f++) {
    for (let d = 0; d < dims; d++) {
      const [r, g, b] = colour((data[f * dims + d]! - min) / (max - min || 1));
      const o = ((dims - 1 - d) * frames + f) * 3; // low frequencies at the bottom
      rgb[o] = r;
      rgb[o + 1] = g;
      rgb[o + 2] = b;
    }
  }
  return encodePng(frames, dims, rgb).toString('base64');
}

/** One panel's row: its title, the waveform with its duration, the spectrogram with its band count. */
function waveformRow(panel: WaveformPanel, y0: number): string[] {
  const mid = y0 + ROW_HEIGHT / 2;
  const x0 = 110;
  const png = spectrogramPng(panel.logMel);
  const sx = x0 + WAVE_WIDTH + 10;
  return [
    `<text x="10" y="${mid + 4}" font-weight="bold">${esc(panel.title)}</text>`,
    `<rect x="${x0}" y="${y0}" width="${WAVE_WIDTH}" height="${ROW_HEIGHT}" fill="#f7f7f7"/>`,
    waveformPolygon(panel.samples, x0, mid),
    `<text x="${x0 + WAVE_WIDTH}" y="${y0 + ROW_HEIGHT + 12}" text-anchor="end" fill="#555">${(panel.samples.length / panel.sampleRate).toFixed(2)} s</text>`,
    `<image x="${sx}" y="${y0}" width="${SPECTROGRAM_WIDTH}" height="${ROW_HEIGHT}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,${png}" xlink:href="data:image/png;base64,${png}"/>`,
    `<text x="${sx + SPECTROGRAM_WIDTH}" y="${y0 + ROW_HEIGHT + 12}" text-anchor="end" fill="#555">log-mel, ${panel.logMel.dims} bands (0–8 kHz)</text>`,
  ];
}

/** One row per panel: waveform (min/max envelope) on the left, log-mel spectrogram on the right. */
export function waveformsSvg(title: string, panels: WaveformPanel[]): string {
  const top = 30;
  const width = WAVE_WIDTH + SPECTROGRAM_WIDTH + 130;
  const height = top + panels.length * (ROW_HEIGHT + 20) + 10;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((panel, row) => {
    parts.push(...waveformRow(panel, top + row * (ROW_HEIGHT + 20)));
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface ReliabilityPanel {
  name: string;
  colour: string;
  /** Equal-width confidence bins: mean confidence, accuracy and count of each. */
  bins: Array<{ confidence: number; accuracy: number; count: number }>;
  ece: number;
}

/**
 * Reliability diagram: accuracy against confidence per bin (a dot sized by the bin's clips), one line per
 * panel (e.g. before and after calibration); the diagonal is perfect calibration.
 */
export function reliabilitySvg(title: string, panels: ReliabilityPanel[]): string {
  const size = 300;
  const left = 50;
  const top = 30;
  const width = left + size + 190;
  const height = top + size + 45;
  const x = (v: number) => left + v * size;
  const y = (v: number) => top + size - v * size;
  const total = Math.max(1, ...panels.map((p) => p.bins.reduce((n, b) => n + b.count, 0)));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${left}" y="${top}" width="${size}" height="${size}" fill="none" stroke="#888"/>`,
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#bbb" stroke-dasharray="4,3"/>`,
  ];
  for (let k = 0; k <= 5; k++) {
    const v = k / 5;
    parts.push(
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`,
      `<text x="${x(v)}" y="${top + size + 15}" text-anchor="middle">${v.toFixed(1)}</text>`,
    );
  }
  parts.push(
    `<text x="${left + size / 2}" y="${height - 8}" text-anchor="middle">confidence (max probability)</text>`,
    `<text x="14" y="${top + size / 2}" text-anchor="middle" transform="rotate(-90 14 ${top + size / 2})">accuracy</text>`,
  );
  panels.forEach((p, k) => {
    const used = p.bins.filter((b) => b.count > 0);
    const points = used.map((b) => `${x(b.confidence).toFixed(1)},${y(b.accuracy).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${p.colour}" stroke-width="2"/>`);
    for (const b of used) {
      const r = 2 + 10 * Math.sqrt(b.count / total);
      parts.push(
        `<circle cx="${x(b.confidence).toFixed(1)}" cy="${y(b.accuracy).toFixed(1)}" r="${r.toFixed(1)}" fill="${p.colour}" fill-opacity="0.5"/>`,
      );
    }
    parts.push(
      `<line x1="${left + size + 15}" x2="${left + size + 35}" y1="${top + 10 + k * 18}" y2="${top + 10 + k * 18}" stroke="${p.colour}" stroke-width="2"/>`,
      `<text x="${left + size + 39}" y="${top + 14 + k * 18}">${esc(`${p.name} (ECE ${p.ece.toFixed(3)})`)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
