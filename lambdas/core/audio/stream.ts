import { AudioError } from '../errors.ts';

/** What every WASM decoder returns per call. */
export interface DecodedChunk {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: { message: string }[];
}

export interface ChunkedDecodeResult {
  samples: Float32Array;
  sampleRate: number;
  /** Channels the decoder produced (before the mix to mono). */
  decodedChannels: number;
  errors: string[];
}

export interface ChunkedDecodeOptions {
  /** Name used in error messages ('FLAC', 'Ogg Opus', …). */
  container: string;
  maxDurationSec: number;
  decode: (chunk: Uint8Array) => DecodedChunk | Promise<DecodedChunk>;
  flush?: () => Promise<DecodedChunk>;
  /**
   * Input is fed in chunks of this size so the duration limit is enforced while decoding: a small file
   * that expands enormously (digital silence) stops at most one chunk past the limit. Smaller chunks bound
   * memory tighter but cost per-call overhead (Vorbis at 4 KiB: 24 ms instead of 8 ms for 3 s).
   */
  chunkBytes: number;
  /** How many decoded channels to average (mpg123 returns a copy of mono as stereo). Default: all. */
  useChannels?: (decodedChannels: number) => number;
  /** Applied before clamping to [-1, 1] (corrects a decoder's scale). Default 1. */
  scale?: number;
}

/**
 * Feeds `bytes` to a streaming decoder chunk by chunk, mixes each result to mono immediately (so only the
 * mono signal is kept), and throws TOO_LONG as soon as more than `maxDurationSec` has been decoded.
 */
export const decodeChunked = async (
  bytes: Uint8Array,
  options: ChunkedDecodeOptions,
): Promise<ChunkedDecodeResult> => {
  const {
    container,
    maxDurationSec,
    decode,
    flush,
    chunkBytes,
    useChannels = (n: number) => n,
    scale = 1,
  } = options;
  const parts: Float32Array[] = [];
  const errors: string[] = [];
  let total = 0;
  let sampleRate = 0;
  let decodedChannels = 0;
  const take = (chunk: DecodedChunk) => {
    for (const error of chunk.errors) errors.push(error.message);
    if (chunk.samplesDecoded === 0 || chunk.channelData.length === 0) return;
    sampleRate ||= chunk.sampleRate;
    decodedChannels ||= chunk.channelData.length;
    const channels = Math.min(useChannels(chunk.channelData.length), chunk.channelData.length);
    const length = chunk.samplesDecoded;
    const mono = new Float32Array(length);
    for (let c = 0; c < channels; c++) {
      const data = chunk.channelData[c]!;
      for (let i = 0; i < length; i++) mono[i]! += data[i]!;
    }
    const gain = scale / channels;
    for (let i = 0; i < length; i++) {
      const value = mono[i]! * gain;
      // Lossy decoders overshoot ±1 slightly on clipped input; NaN would mean a broken decoder.
      mono[i] = value > 1 ? 1 : value < -1 ? -1 : value || 0;
    }
    parts.push(mono);
    total += length;
    if (sampleRate > 0 && total / sampleRate > maxDurationSec) {
      throw new AudioError(
        'TOO_LONG',
        `${container} audio is longer than the ${maxDurationSec} s limit (stopped decoding at ${(total / sampleRate).toFixed(1)} s)`,
      );
    }
  };
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
    take(await decode(bytes.subarray(offset, offset + chunkBytes)));
  }
  if (flush) take(await flush());

  const samples = new Float32Array(total);
  let at = 0;
  for (const part of parts) {
    samples.set(part, at);
    at += part.length;
  }
  return { samples, sampleRate, decodedChannels, errors };
};

/**
 * A decoder instance shared across calls (WASM instantiation costs milliseconds), used by one call at a
 * time: the decoders are stateful streams, so concurrent calls in one process must not interleave.
 * After any failure the instance is thrown away, so a bad file can never leave state for the next one.
 */
export class SharedDecoder<T extends { ready: Promise<void>; free: () => void }> {
  #instance: T | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly create: () => T) {}

  /** Instantiates the decoder now (WASM compile + init), so the first real decode does not pay for it. */
  warm(): Promise<void> {
    return this.use(async () => undefined);
  }

  /**
   * Runs `work` on the shared decoder, one call at a time. A decoder that fails is discarded. With
   * `retryFresh`, work that fails on a reused decoder runs once more on a fresh one: state a decoder
   * keeps from earlier files must not turn a sound file into an error (`work` must be re-runnable).
   */
  use<R>(work: (decoder: T) => Promise<R>, { retryFresh = false } = {}): Promise<R> {
    const attempt = async (): Promise<{ value: R } | { error: unknown; reused: boolean }> => {
      const reused = this.#instance !== undefined;
      this.#instance ??= this.create();
      const decoder = this.#instance;
      await decoder.ready;
      try {
        return { value: await work(decoder) };
      } catch (error) {
        this.#instance = undefined;
        try {
          decoder.free();
        } catch {
          // already unusable; nothing else to release
        }
        return { error, reused };
      }
    };
    const run = async (): Promise<R> => {
      let outcome = await attempt();
      if ('error' in outcome && outcome.reused && retryFresh) outcome = await attempt();
      if ('error' in outcome) throw outcome.error;
      return outcome.value;
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}
