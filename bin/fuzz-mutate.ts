/**
 * The fuzzer's mutations (bin/fuzz.ts), pure and seeded: case `index` of seed `seed` is always the same
 * file, so any finding is reproduced from those two numbers. Kinds: bit flips, byte runs, truncation,
 * header fields set to extremes (by the field's meaning: rate, channels, block, size, duration, …),
 * duplicated and removed chunks, and "havoc" (2–4 of those stacked).
 */
import { type Chunk, type Field, type Layout, readField, writeField } from './fuzz-layout.ts';

export const MUTATION_KINDS = [
  'bit-flip',
  'byte-run',
  'truncate',
  'field',
  'chunk-duplicate',
  'chunk-remove',
  'havoc',
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

/** How often each kind is drawn: header fields weigh three times as much (they reach the limit checks). */
const DRAW: readonly MutationKind[] = [...MUTATION_KINDS, 'field', 'field'];

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32 over a hash of (seed, index): independent, reproducible streams per case. */
export const randomFor = (seed: number, index: number): Random => {
  let state = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (items) => items[int(items.length)]! };
};

export interface Mutant {
  bytes: Uint8Array;
  /** The mutation kind, with the field's meaning for field mutations (`field:rate`). */
  kind: string;
  /** What was done, for the report: enough to understand a finding without re-running it. */
  detail: string;
}

/** Extreme and near-miss values for a field: bounds, sign edges, off-by-ones, scalings, kind-specific limits. */
export const extremeValues = (field: Field, original: number, fileLength: number): number[] => {
  const max = 2 ** field.bits - 1;
  const half = 2 ** (field.bits - 1);
  const common = [0, 1, 2, max, max - 1, half, half - 1, original + 1, original - 1, original * 2];
  common.push(Math.floor(original / 2), original * 256);
  const byKind: Partial<Record<Field['kind'], number[]>> = {
    rate: [999, 1000, 8000, 384_000, 384_001, 10_000_000],
    channels: [3, 8, 64, 65, 255],
    block: [15, 16, 17, 65535, 65536],
    size: [fileLength, fileLength + 1, fileLength * 16, 0xffff_fff8],
    duration: [16000 * 600, 16000 * 601, 384_000 * 600, 2 ** 32],
  };
  return [...common, ...(byKind[field.kind] ?? [])].filter((v) => v >= 0 && v <= max);
};

const flipBits = (bytes: Uint8Array, random: Random): string => {
  const count = 1 + random.int(8);
  const headerEnd = Math.min(bytes.length, 512);
  const positions: number[] = [];
  for (let i = 0; i < count; i++) {
    // Half aimed at the first 512 bytes, where headers are.
    const at = random.next() < 0.5 ? random.int(headerEnd) : random.int(bytes.length);
    bytes[at]! ^= 1 << random.int(8);
    positions.push(at);
  }
  return `flipped ${count} bit(s) at ${positions.join(',')}`;
};

const RUN_VALUES = ['0x00', '0xff', '0x7f', '0x80', 'random'] as const;

const writeRun = (bytes: Uint8Array, random: Random): string => {
  const length = 1 + random.int(random.pick([4, 16, 64, 512]));
  const at = random.next() < 0.5 ? random.int(Math.min(bytes.length, 512)) : random.int(bytes.length);
  const value = random.pick(RUN_VALUES);
  const end = Math.min(bytes.length, at + length);
  for (let i = at; i < end; i++) bytes[i] = value === 'random' ? random.int(256) : Number(value);
  return `${end - at} bytes of ${value} at ${at}`;
};

const setField = (bytes: Uint8Array, layout: Layout, random: Random): Mutant | undefined => {
  if (layout.fields.length === 0) return undefined;
  // The kind first, then a field of it: WebM has a hundred block sizes for one sampling frequency.
  const kind = random.pick([...new Set(layout.fields.map((f) => f.kind))]);
  const field = random.pick(layout.fields.filter((f) => f.kind === kind));
  const original = readField(bytes, field);
  const value = random.pick(extremeValues(field, original, bytes.length));
  writeField(bytes, field, value);
  const repair = field.repair !== undefined && random.next() < 0.75;
  if (repair) field.repair?.(bytes);
  const note = repair ? ', checksum repaired' : '';
  return { bytes, kind: `field:${field.kind}`, detail: `${field.name} ${original} → ${value}${note}` };
};

const splice = (bytes: Uint8Array, at: number, remove: number, insert: Uint8Array = new Uint8Array()) => {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
};

const chunkLabel = (chunk: Chunk) => `${chunk.name} (${chunk.length} bytes at ${chunk.offset})`;

const duplicateChunk = (bytes: Uint8Array, layout: Layout, random: Random): Mutant | undefined => {
  const chunk = layout.chunks.length > 0 ? random.pick(layout.chunks) : undefined;
  if (!chunk || chunk.offset + chunk.length > bytes.length) return undefined;
  const copy = bytes.slice(chunk.offset, chunk.offset + chunk.length);
  // Right after itself, or in front of another chunk.
  const target = random.next() < 0.5 ? chunk : random.pick(layout.chunks);
  const at = target === chunk ? chunk.offset + chunk.length : Math.min(target.offset, bytes.length);
  return {
    bytes: splice(bytes, at, 0, copy),
    kind: 'chunk-duplicate',
    detail: `${chunkLabel(chunk)} copied to ${at}`,
  };
};

const removeChunk = (bytes: Uint8Array, layout: Layout, random: Random): Mutant | undefined => {
  const chunk = layout.chunks.length > 0 ? random.pick(layout.chunks) : undefined;
  if (!chunk || chunk.offset + chunk.length > bytes.length || chunk.length >= bytes.length) return undefined;
  return {
    bytes: splice(bytes, chunk.offset, chunk.length),
    kind: 'chunk-remove',
    detail: `removed ${chunkLabel(chunk)}`,
  };
};

const truncate = (bytes: Uint8Array, layout: Layout, random: Random): Mutant => {
  let at = 1 + random.int(bytes.length - 1);
  if (layout.chunks.length > 0 && random.next() < 0.5) {
    // At (or just past) a chunk boundary, where parsers decide what comes next.
    const chunk = random.pick(layout.chunks);
    at = Math.min(bytes.length - 1, Math.max(1, chunk.offset + random.pick([0, 1, 4, 8, chunk.length - 1])));
  }
  return { bytes: bytes.slice(0, at), kind: 'truncate', detail: `cut to ${at} of ${bytes.length} bytes` };
};

/** One mutation of `kind` on a copy of `source` (kinds that do not apply fall back to a bit flip). */
const applyKind = (source: Uint8Array, layout: Layout, kind: MutationKind, random: Random): Mutant => {
  const bytes = source.slice();
  const structured =
    kind === 'field'
      ? setField(bytes, layout, random)
      : kind === 'chunk-duplicate'
        ? duplicateChunk(bytes, layout, random)
        : kind === 'chunk-remove'
          ? removeChunk(bytes, layout, random)
          : kind === 'truncate' && bytes.length > 1
            ? truncate(bytes, layout, random)
            : undefined;
  if (structured) return structured;
  const detail = kind === 'byte-run' ? writeRun(bytes, random) : flipBits(bytes, random);
  const repair = layout.repair !== undefined && random.next() < 0.5;
  if (repair) layout.repair?.(bytes);
  return {
    bytes,
    kind: kind === 'byte-run' ? 'byte-run' : 'bit-flip',
    detail: detail + (repair ? ', checksums repaired' : ''),
  };
};

/** A mutant of `source` (whose structure is `layout`); the kind is drawn too unless given. */
export const mutate = (source: Uint8Array, layout: Layout, random: Random, kind?: MutationKind): Mutant => {
  const chosen = kind ?? random.pick(DRAW);
  if (chosen !== 'havoc') return applyKind(source, layout, chosen, random);
  let bytes = source;
  const steps: string[] = [];
  for (let i = 0, n = 2 + random.int(3); i < n; i++) {
    const step = applyKind(bytes, layout, random.pick(DRAW.filter((k) => k !== 'havoc')), random);
    bytes = step.bytes;
    steps.push(`${step.kind}: ${step.detail}`);
  }
  return { bytes, kind: 'havoc', detail: steps.join('; ') };
};
