import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { resample } from '../lambdas/core/audio/resample.ts';
import { type TrimmedSpeech, trimToSpeech } from '../lambdas/core/audio/trim.ts';
import { isSerError } from '../lambdas/core/errors.ts';
import type { FeatureConfig } from '../lambdas/core/features/config.ts';
import { createFeatureExtractor, type FeatureMatrix } from '../lambdas/core/features/extract.ts';
import { createSpeechDetector, type SpeechDetector } from '../lambdas/core/speech/vad.ts';
import { type AugmentationRecord, type AugmentationSpec, augment } from './augment.ts';
import { applyChannel, type ChannelRecord, type ChannelSpec } from './channel.ts';
import type { Clip } from './datasets.ts';
import { createRng, seedFrom } from './random.ts';

/** Bump when the training-side pipeline (trim, augmentation code) changes meaning: invalidates the cache. */
const PIPELINE_VERSION = 'trim-vad-v1/aug-v1';

export const DEFAULT_CACHE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '.cache', 'features');

/** Raw (pre-CMVN) features of one clip: the original and its augmented copies. */
export interface ClipFeatures {
  clip: Clip;
  fileHash: string;
  /** Hash of the decoded samples: finds the same audio stored twice (WAV and FLAC, nested zip copies). */
  sampleHash: string;
  durationSec: number;
  speechSec: number;
  original: FeatureMatrix;
  augmented: FeatureMatrix[];
  augmentations: AugmentationRecord[];
  /** Channel-degraded copies (room, EQ, noise, phone line, clipping; see channel.ts), training only. */
  channel: FeatureMatrix[];
  channels: ChannelRecord[];
}

export interface FeaturePipelineOptions {
  config: FeatureConfig;
  /** Augmented copies per clip (0 for evaluation). */
  augmentCopies: number;
  augmentation: AugmentationSpec;
  seed: number;
  /** Channel-degraded copies per clip (0 or absent: none), made from the clean trimmed clip. */
  channelCopies?: number;
  channel?: ChannelSpec;
  /**
   * Per-corpus copy counts that override `augmentCopies` / `channelCopies` (e.g. fewer for TESS, whose
   * 2800 clips of two voices gain less from each copy than RAVDESS's 12 voices and cost most of the time).
   */
  corpusCopies?: Partial<Record<Clip['corpus'], { augment: number; channel: number }>>;
  cacheDir?: string;
  /** Show a progress bar (off in tests). */
  progress?: boolean;
}

const sha1 = (...parts: Array<string | Uint8Array>): string => {
  const hash = createHash('sha1');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
};

interface CacheHeader {
  sampleHash?: string;
  durationSec?: number;
  speechSec?: number;
  frames: number[];
  dims: number;
  augmentations?: AugmentationRecord[];
  channels?: ChannelRecord[];
}

/** Cache file: 4-byte header length, JSON header, then the matrices' float32 data back to back. */
async function writeCache(path: string, header: CacheHeader, matrices: FeatureMatrix[]): Promise<void> {
  const json = Buffer.from(JSON.stringify(header));
  const total = matrices.reduce((n, m) => n + m.data.byteLength, 0);
  const buffer = Buffer.alloc(4 + json.length + total);
  buffer.writeUInt32LE(json.length, 0);
  json.copy(buffer, 4);
  let offset = 4 + json.length;
  for (const m of matrices) {
    Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength).copy(buffer, offset);
    offset += m.data.byteLength;
  }
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`; // atomic: a killed run never leaves a half-written entry
  await writeFile(temp, buffer);
  await rename(temp, path);
}

async function readCache(
  path: string,
): Promise<{ header: CacheHeader; matrices: FeatureMatrix[] } | undefined> {
  const buffer = await readFile(path).catch(() => undefined);
  if (!buffer) return undefined;
  const length = buffer.readUInt32LE(0);
  const header = JSON.parse(buffer.subarray(4, 4 + length).toString('utf8')) as CacheHeader;
  const data = new Float32Array(
    buffer.buffer.slice(buffer.byteOffset + 4 + length, buffer.byteOffset + buffer.length),
  );
  let offset = 0;
  const matrices = header.frames.map((frames) => {
    const size = frames * header.dims;
    const matrix = { frames, dims: header.dims, data: data.slice(offset, offset + size) };
    offset += size;
    return matrix;
  });
  return { header, matrices };
}

export interface FeaturePipeline {
  /**
   * Features of every clip (from the cache when present), in input order. Clips the core decoder refuses
   * (an `AudioError`) are listed in `failed` instead of stopping a long run; anything else is thrown.
   */
  run(clips: Clip[]): Promise<{ items: ClipFeatures[]; failed: Array<{ path: string; error: string }> }>;
  /** Decoded, 16 kHz, trimmed samples of one clip (for the report's pictures). */
  trimmed(path: string): Promise<TrimmedSpeech>;
}

type CacheEntry = { header: CacheHeader; matrices: FeatureMatrix[] };
type Decoded = Awaited<ReturnType<typeof decodeTrimmed>>;

/** What every clip's feature extraction shares: the options, the extractor, the VAD and the cache keys. */
interface PipelineContext {
  options: FeaturePipelineOptions;
  extractor: ReturnType<typeof createFeatureExtractor>;
  detector: SpeechDetector;
  cacheRoot: string;
  keys: { original: string; augment: string; channel: string };
}

/** Cache folder names: each changes with everything its features depend on. */
function cacheKeys(options: FeaturePipelineOptions): PipelineContext['keys'] {
  const { config, augmentation, seed } = options;
  // Cached features never have CMVN applied (the batcher or the model does it), so `normalization` is
  // pinned in the key: packages with either setting share one cache.
  const original = sha1(JSON.stringify({ ...config, normalization: 'utterance' }), PIPELINE_VERSION).slice(
    0,
    16,
  );
  const augment = sha1(original, JSON.stringify(augmentation), String(seed)).slice(0, 16);
  const channel = sha1(original, 'channel-v1', JSON.stringify(options.channel ?? null), String(seed)).slice(
    0,
    16,
  );
  return { original, augment, channel };
}

/** How many augmented and channel copies a clip gets (per-corpus counts win). */
function copiesOf(options: FeaturePipelineOptions, clip: Clip) {
  const own = options.corpusCopies?.[clip.corpus];
  return {
    augmentCopies: own?.augment ?? options.augmentCopies,
    channelCopies: options.channel ? (own?.channel ?? options.channelCopies ?? 0) : 0,
  };
}

async function decodeTrimmed(context: Pick<PipelineContext, 'options' | 'detector'>, bytes: Uint8Array) {
  const { config } = context.options;
  const decoded = await decodeAudio(bytes, { maxDurationSec: 60 });
  const samples =
    decoded.sampleRate === config.sampleRate
      ? decoded.samples
      : resample(decoded.samples, decoded.sampleRate, config.sampleRate);
  const sampleHash = sha1(
    new Uint8Array(decoded.samples.buffer, decoded.samples.byteOffset, decoded.samples.byteLength),
  );
  return { decoded, sampleHash, trimmed: trimToSpeech(samples, config.sampleRate, context.detector, config) };
}

/** Channel copies from the clean trimmed clip (seeded by seed, file hash and copy index). */
async function channelFeatures(
  context: PipelineContext,
  channelCopies: number,
  path: string,
  fileHash: string,
  trimmed: () => Promise<Float32Array>,
): Promise<{ matrices: FeatureMatrix[]; records: ChannelRecord[] }> {
  const { options, extractor } = context;
  if (channelCopies === 0) return { matrices: [], records: [] };
  const cached = await readCache(path);
  if (cached) return { matrices: cached.matrices, records: cached.header.channels ?? [] };
  const samples = await trimmed();
  const records: ChannelRecord[] = [];
  const matrices: FeatureMatrix[] = [];
  for (let k = 0; k < channelCopies; k++) {
    const rng = createRng(seedFrom(options.seed, 'channel', fileHash, k));
    const result = applyChannel(samples, options.config.sampleRate, options.channel!, rng);
    records.push(result.record);
    matrices.push(extractor.extract(result.samples));
  }
  const dims = matrices[0]!.dims;
  await writeCache(path, { frames: matrices.map((m) => m.frames), dims, channels: records }, matrices);
  return { matrices, records };
}

/** Augmented copies of the trimmed clip (seeded by seed, file hash and copy index). */
function augmentedFeatures(
  context: PipelineContext,
  samples: Float32Array,
  fileHash: string,
  copies: number,
  dims: number,
): CacheEntry {
  const { options, extractor } = context;
  const records: AugmentationRecord[] = [];
  const matrices: FeatureMatrix[] = [];
  for (let k = 0; k < copies; k++) {
    const rng = createRng(seedFrom(options.seed, fileHash, k));
    const result = augment(samples, options.config.sampleRate, options.augmentation, rng);
    records.push(result.record);
    matrices.push(extractor.extract(result.samples));
  }
  return { header: { frames: matrices.map((m) => m.frames), dims, augmentations: records }, matrices };
}

/** Extracts the original's features and its augmented copies, and caches both. */
async function extractOriginalAndAugmented(
  context: PipelineContext,
  { decoded: audio, sampleHash, trimmed }: Decoded,
  fileHash: string,
  augmentCopies: number,
  paths: { original: string; augment: string },
): Promise<{ original: CacheEntry; augmented: CacheEntry | undefined }> {
  const matrix = context.extractor.extract(trimmed.samples);
  const header = {
    sampleHash,
    durationSec: audio.durationSec,
    speechSec: trimmed.speechSec,
    dims: matrix.dims,
  };
  const original = { header: { ...header, frames: [matrix.frames] }, matrices: [matrix] };
  await writeCache(paths.original, original.header, original.matrices);
  if (augmentCopies === 0) return { original, augmented: undefined };
  const augmented = augmentedFeatures(context, trimmed.samples, fileHash, augmentCopies, matrix.dims);
  await writeCache(paths.augment, augmented.header, augmented.matrices);
  return { original, augmented };
}

/** One clip's features: from the cache where present, otherwise decoded, extracted and cached. */
async function processClip(context: PipelineContext, clip: Clip): Promise<ClipFeatures> {
  const { keys } = context;
  const { augmentCopies, channelCopies } = copiesOf(context.options, clip);
  const bytes = await readFile(clip.path);
  const fileHash = sha1(bytes);
  const cachePath = (key: string, suffix: string) =>
    join(context.cacheRoot, key, fileHash.slice(0, 2), `${fileHash}${suffix}.bin`);
  const paths = {
    original: cachePath(keys.original, ''),
    augment: cachePath(keys.augment, `.x${augmentCopies}`),
  };
  let decodedOnce: Decoded | undefined;
  const decoded = async () => {
    decodedOnce ??= await decodeTrimmed(context, bytes);
    return decodedOnce;
  };
  let original = await readCache(paths.original);
  let augmented: CacheEntry | undefined =
    augmentCopies > 0 ? await readCache(paths.augment) : { header: { frames: [], dims: 0 }, matrices: [] };
  if (!original || !augmented) {
    const extracted = await extractOriginalAndAugmented(
      context,
      await decoded(),
      fileHash,
      augmentCopies,
      paths,
    );
    original = extracted.original;
    augmented = extracted.augmented ?? augmented;
  }
  const channel = await channelFeatures(
    context,
    channelCopies,
    cachePath(keys.channel, `.c${channelCopies}`),
    fileHash,
    async () => (await decoded()).trimmed.samples,
  );
  return {
    clip,
    fileHash,
    sampleHash: original.header.sampleHash!,
    durationSec: original.header.durationSec!,
    speechSec: original.header.speechSec!,
    original: original.matrices[0]!,
    augmented: augmented!.matrices,
    augmentations: augmented!.header.augmentations ?? [],
    channel: channel.matrices,
    channels: channel.records,
  };
}

/** Every clip in order; a clip the core decoder refuses is listed as failed, anything else is thrown. */
async function processClips(context: PipelineContext, clips: Clip[]): ReturnType<FeaturePipeline['run']> {
  const bar = context.options.progress
    ? new cliProgress.SingleBar(
        { format: 'features |{bar}| {value}/{total} clips {duration_formatted} (ETA {eta_formatted})' },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(clips.length, 0);
  const items: ClipFeatures[] = [];
  const failed: Array<{ path: string; error: string }> = [];
  for (const clip of clips) {
    try {
      items.push(await processClip(context, clip));
    } catch (error) {
      if (!isSerError(error)) {
        bar?.stop();
        throw new Error(`${clip.path}: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
        });
      }
      failed.push({ path: clip.path, error: `${error.code}: ${error.message}` });
    }
    bar?.increment();
  }
  bar?.stop();
  return { items, failed };
}

/**
 * decode → resample to the config's rate → trim to speech (the predictor's VAD) → core feature extractor
 * (loudness normalisation, meyda-identical MFCC; CMVN is applied per model window by the batcher).
 * Augmented copies are made from the trimmed audio with a PRNG seeded by (seed, file hash, copy index),
 * so they are the same on every run and cacheable.
 */
export async function createFeaturePipeline(options: FeaturePipelineOptions): Promise<FeaturePipeline> {
  const context: PipelineContext = {
    options,
    extractor: createFeatureExtractor(options.config),
    detector: await createSpeechDetector(),
    cacheRoot: options.cacheDir ?? DEFAULT_CACHE_DIR,
    keys: cacheKeys(options),
  };
  return {
    run: (clips) => processClips(context, clips),
    async trimmed(path) {
      return (await decodeTrimmed(context, await readFile(path))).trimmed;
    },
  };
}

/** Drops clips whose decoded audio equals an earlier clip's (keeps the first by path). */
export function dedupe(items: ClipFeatures[]): { kept: ClipFeatures[]; duplicates: Array<[string, string]> } {
  const seen = new Map<string, string>();
  const kept: ClipFeatures[] = [];
  const duplicates: Array<[string, string]> = [];
  for (const item of [...items].sort((a, b) => (a.clip.path < b.clip.path ? -1 : 1))) {
    const first = seen.get(item.sampleHash);
    if (first) duplicates.push([item.clip.path, first]);
    else {
      seen.set(item.sampleHash, item.clip.path);
      kept.push(item);
    }
  }
  return { kept, duplicates };
}
