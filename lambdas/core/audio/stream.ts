import { AudioError } from '../errors.ts';
import { concatenated } from './concat.ts';
import { checkDecodedValues, checkStreamParameters } from './limits.ts';
import { mixCancelled } from './mono.ts';
import { createStreamingResampler, type StreamingResampler } from './resample.ts';
import { sumOfSquares } from './sums.ts';

/** What every WASM decoder returns per call. */
export interface DecodedChunk {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: { message: string }[];
}

export interface ChunkedDecodeResult {
  /** Mono samples at `outputRate` when one was asked for, else at `sampleRate`. */
  samples: Float32Array;
  /** The rate the decoder produced: the source's, except for Opus, which libopus decodes at the output rate. */
  sampleRate: number;
  /** Sample frames decoded at `sampleRate` (the length to compare with a header's declaration). */
  frames: number;
  /** Channels the decoder produced (before the mix to mono). */
  decodedChannels: number;
  errors: string[];
}

/** One decoded chunk, or several, possibly produced one at a time as they are read. */
export type DecodedOutput = DecodedChunk | Iterable<DecodedChunk> | AsyncIterable<DecodedChunk>;

const isChunk = (output: DecodedOutput): output is DecodedChunk => 'channelData' in output;

export interface ChunkedDecodeOptions {
  /** Name used in error messages ('FLAC', 'Ogg Opus', …). */
  container: string;
  maxDurationSec: number;
  /**
   * Resample each mono chunk to this rate as it is decoded, so memory follows the output (16 kHz for
   * the model) instead of the declared input rate. Default: keep the source rate.
   */
  outputRate?: number;
  /**
   * Decodes the next input bytes; may return several chunks (a decoder that bounds each call's output),
   * also lazily: each is taken, and the limits checked, before the next is decoded.
   */
  decode: (chunk: Uint8Array) => DecodedOutput | Promise<DecodedOutput>;
  flush?: () => Promise<DecodedOutput>;
  /**
   * Input is fed in chunks of this size so the duration limit is enforced while decoding: a small file
   * that expands enormously (digital silence) stops at most one chunk past the limit (one decoded chunk,
   * for a decoder that yields them lazily, as FLAC's). Smaller chunks bound memory tighter but cost
   * per-call overhead (Vorbis at 4 KiB: 24 ms instead of 8 ms for 3 s).
   */
  chunkBytes: number;
  /** How many decoded channels to average (mpg123 returns a copy of mono as stereo). Default: all. */
  useChannels?: (decodedChannels: number) => number;
  /** Applied before clamping to [-1, 1] (corrects a decoder's scale). Default 1. */
  scale?: number;
}

/**
 * Averages the first `channels` channels of a decoded chunk, scaled and clamped to [-1, 1]. A single
 * channel is read directly (the float32 sum of one channel is the channel itself: same values, one pass).
 */
const mixChunk = (chunk: DecodedChunk, channels: number, scale: number): Float32Array => {
  const length = chunk.samplesDecoded;
  const mono = new Float32Array(length);
  let source = channels === 1 ? chunk.channelData[0]! : mono;
  let gain = scale / channels;
  if (channels > 1) {
    for (let c = 0; c < channels; c++) {
      const data = chunk.channelData[c]!;
      for (let i = 0; i < length; i++) mono[i]! += data[i]!;
    }
    const first = chunk.channelData[0]!;
    if (mixCancelled(sumOfSquares(mono) / (channels * channels), sumOfSquares(first, 0, length))) {
      source = first;
      gain = scale;
    }
  }
  for (let i = 0; i < length; i++) {
    const value = source[i]! * gain;
    // Lossy decoders overshoot ±1 slightly on clipped input; NaN would mean a broken decoder.
    mono[i] = value > 1 ? 1 : value < -1 ? -1 : value || 0;
  }
  return mono;
};

/**
 * The rate and channels a decoder reports come from the codec's own header (a Vorbis identification
 * header, a FLAC or MPEG frame), not the container's claim checked before decoding: libvorbis decodes at
 * whatever rate its header gives, 1 Hz or 400 MHz (docs/dependencies.md), and the resampler and duration
 * limit are built on this one. A later
 * chunk at another rate is refused: mpg123-decoder reports one rate per call for samples that may span
 * a change (docs/dependencies.md), so such a stream cannot be resampled correctly.
 */
const checkChunkRate = (container: string, chunk: DecodedChunk, firstRate: number, seconds: number): void => {
  checkStreamParameters(container, chunk.sampleRate, chunk.channelData.length);
  if (firstRate !== 0 && chunk.sampleRate !== firstRate) {
    throw new AudioError(
      'UNSUPPORTED_FORMAT',
      `${container} audio changes its sample rate from ${firstRate} to ${chunk.sampleRate} Hz after ` +
        `${seconds.toFixed(1)} s; one rate per file is supported (convert it first)`,
    );
  }
};

export type MonoOptions = Pick<
  ChunkedDecodeOptions,
  'container' | 'maxDurationSec' | 'outputRate' | 'useChannels' | 'scale'
>;

/**
 * Collects decoder output: each chunk is mixed to mono as it arrives (and resampled when `outputRate` is
 * set, so only the output signal is kept), and decoding stops as soon as more than `maxDurationSec`
 * (TOO_LONG) or more than the decoded-values budget (TOO_LARGE) has been decoded.
 */
export const createMonoCollector = (options: MonoOptions) => {
  const { container, maxDurationSec, outputRate, useChannels = (n: number) => n, scale = 1 } = options;
  const parts: Float32Array[] = [];
  const errors: string[] = [];
  let frames = 0;
  let values = 0;
  let sampleRate = 0;
  let decodedChannels = 0;
  let resampler: StreamingResampler | undefined;
  const take = (chunk: DecodedChunk) => {
    for (const error of chunk.errors) errors.push(error.message);
    if (chunk.samplesDecoded === 0 || chunk.channelData.length === 0) return;
    checkChunkRate(container, chunk, sampleRate, sampleRate > 0 ? frames / sampleRate : 0);
    sampleRate ||= chunk.sampleRate;
    decodedChannels ||= chunk.channelData.length;
    frames += chunk.samplesDecoded;
    values += chunk.samplesDecoded * chunk.channelData.length;
    checkDecodedValues(container, values, 'decoded');
    if (sampleRate > 0 && frames / sampleRate > maxDurationSec) {
      throw new AudioError(
        'TOO_LONG',
        `${container} audio is longer than the ${maxDurationSec} s limit (stopped decoding at ${(frames / sampleRate).toFixed(1)} s)`,
      );
    }
    const channels = Math.min(useChannels(chunk.channelData.length), chunk.channelData.length);
    const mono = mixChunk(chunk, channels, scale);
    if (outputRate === undefined) {
      parts.push(mono);
      return;
    }
    resampler ??= createStreamingResampler(sampleRate, outputRate);
    parts.push(resampler.push(mono));
  };
  const result = (): ChunkedDecodeResult => {
    if (resampler) parts.push(resampler.finish());
    return { samples: concatenated(parts, Float32Array), sampleRate, frames, decodedChannels, errors };
  };
  return { take, result };
};

/** Feeds `bytes` to a streaming decoder chunk by chunk into a mono collector (see `createMonoCollector`). */
export const decodeChunked = async (
  bytes: Uint8Array,
  options: ChunkedDecodeOptions,
): Promise<ChunkedDecodeResult> => {
  const { decode, flush, chunkBytes } = options;
  const collector = createMonoCollector(options);
  const takeAll = async (output: DecodedOutput) => {
    for await (const chunk of isChunk(output) ? [output] : output) collector.take(chunk);
  };
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
    await takeAll(await decode(bytes.subarray(offset, offset + chunkBytes)));
  }
  if (flush) await takeAll(await flush());
  return collector.result();
};

/**
 * A decoder instance shared across calls (WASM instantiation costs milliseconds), used by one call at a
 * time: the decoders are stateful streams, so concurrent calls in one process must not interleave.
 * After any failure the instance is thrown away, so a bad file can never leave state for the next one.
 */
export class SharedDecoder<T extends { ready: Promise<void>; free: () => void }> {
  #instance: T | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  /** `create` may load the decoder's package first (codec-packages.ts). */
  constructor(private readonly create: () => T | Promise<T>) {}

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
      this.#instance ??= await this.create();
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
