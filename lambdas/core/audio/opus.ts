import type { CodecFrame, OggPage } from 'codec-parser';
import type { OpusDecoderSampleRate, OpusDecoder as RateDecoder } from 'opus-decoder';
import { codecParserClass, opusPackage } from './codec-packages.ts';
import { type DecodedChunk, SharedDecoder } from './stream.ts';
import { resetOpusInPlace } from './wasm-reset.ts';

/** A decoder at any of libopus's rates (opus-decoder types each rate apart). */
type OpusDecoder = RateDecoder<OpusDecoderSampleRate>;

/** What libopus needs from a stream's OpusHead (RFC 7845 §5.1), as opus-decoder takes it. */
export interface OpusLayout {
  channels: number;
  preSkip: number;
  streamCount?: number;
  coupledStreamCount?: number;
  channelMappingTable?: number[];
}

/** The decoder's layout from an OpusHead packet (also what Ogg's first page and WebM's CodecPrivate hold). */
export const opusLayout = (head: Uint8Array | undefined, channels: number): OpusLayout => {
  if (!head || head.length < 19 || new TextDecoder().decode(head.subarray(0, 8)) !== 'OpusHead') {
    return { channels: Math.min(channels, 2), preSkip: 0 };
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const layout = { channels: head[9]!, preSkip: view.getUint16(10, true) };
  if (head[18] === 0 || head.length < 21 + layout.channels) return layout;
  return {
    ...layout,
    streamCount: head[19]!,
    coupledStreamCount: head[20]!,
    channelMappingTable: [...head.subarray(21, 21 + layout.channels)],
  };
};

/** Opus's own rate: every stream is coded at 48 kHz, and granule positions and pre-skip count at it. */
export const OPUS_RATE = 48_000 as const;

/** The rates libopus decodes to by itself (RFC 6716 §2). */
const OPUS_DECODE_RATES: readonly OpusDecoderSampleRate[] = [8_000, 12_000, 16_000, 24_000, 48_000];

/**
 * The rate to decode at: the caller's output rate when libopus renders it itself, else 48 kHz. At 16 kHz
 * libopus synthesises only the band below 8 kHz (the part the model hears) and skips our resampler; it
 * decodes in about four fifths of the time, and a third of the samples are copied out and mixed.
 */
export const opusDecodeRate = (outputRate: number | undefined): OpusDecoderSampleRate =>
  OPUS_DECODE_RATES.find((rate) => rate === outputRate) ?? OPUS_RATE;

/** Compiles and instantiates the Opus decoder ahead of the first file (the module is shared by all layouts). */
export const warmOpus = (rate: OpusDecoderSampleRate = OPUS_RATE): Promise<void> =>
  withOpusDecoder({ channels: 1, preSkip: 312 }, rate, async () => undefined);

/**
 * The decoder of the last layout seen. Uploads almost always repeat one (mono or stereo, libopus's
 * pre-skip of 312), so one WASM instance serves file after file; another layout replaces it, which
 * bounds the instances alive (28 MB of linear memory each) to this one and any still in use.
 */
let current: { key: string; shared: SharedDecoder<OpusDecoder> } | undefined;

const sharedFor = (layout: OpusLayout, rate: OpusDecoderSampleRate): SharedDecoder<OpusDecoder> => {
  const key = JSON.stringify({ ...layout, rate });
  // opus-decoder drops `preSkip` samples of its output rate: the header's count is at 48 kHz.
  const options = { ...layout, preSkip: Math.round((layout.preSkip * rate) / OPUS_RATE), sampleRate: rate };
  if (current?.key !== key) {
    const create = async (): Promise<OpusDecoder> => new (await opusPackage()).OpusDecoder(options);
    current = { key, shared: new SharedDecoder(create) };
  }
  return current.shared;
};

/** libopus's state must not carry over to the next stream: re-created in place, else a new instance. */
const freshState = async (decoder: OpusDecoder): Promise<void> => {
  if (!resetOpusInPlace(decoder)) await decoder.reset();
};

/**
 * Runs `work` on a decoder for `layout` producing `rate` (see `opusDecodeRate`) in a fresh state, and
 * leaves it fresh for the next file.
 */
export const withOpusDecoder = <R>(
  layout: OpusLayout,
  rate: OpusDecoderSampleRate,
  work: (decoder: OpusDecoder) => Promise<R>,
) =>
  sharedFor(layout, rate).use(async (decoder) => {
    try {
      return await work(decoder);
    } finally {
      await freshState(decoder);
    }
  });

/**
 * Ogg Opus pages → decoded chunks, as ogg-opus-decoder 1.7.5 does it (whose per-stream `reset()` made a
 * new WASM instance for every file): the frames of each call's pages are decoded in one batch, and at
 * the stream's last page the samples decoded past its granule position (the encoder's padding) are cut
 * from the end of that call's last batch (the page counts at 48 kHz, the decoder at `rate`). Resolves to
 * `decode`/`flush` for `decodeChunked`.
 */
export const oggOpusPages = async (decoder: OpusDecoder, rate: number) => {
  const CodecParser = await codecParserClass();
  const parser = new CodecParser('application/ogg', { enableFrameCRC32: false, enableLogging: false });
  let decodedInStream = 0;
  let streamEnded = false;
  const decodePages = async (pages: OggPage[]): Promise<DecodedChunk[]> => {
    const chunks: DecodedChunk[] = [];
    let frames: Uint8Array[] = [];
    const decodeBatch = async () => {
      if (frames.length === 0) return;
      // Frames after a last page belong to a chained stream, which starts from a fresh state.
      if (streamEnded) await freshState(decoder);
      streamEnded = false;
      const chunk = decoder.decodeFrames(frames);
      chunks.push(chunk);
      decodedInStream += chunk.samplesDecoded;
      frames = [];
    };
    for (const page of pages) {
      for (const frame of page.codecFrames as CodecFrame[]) frames.push(frame.data);
      if (!page.isLastPage) continue;
      await decodeBatch();
      const last = chunks.at(-1);
      const padding = Math.round(decodedInStream - (page.totalSamples * rate) / OPUS_RATE);
      if (last && page.absoluteGranulePosition !== undefined && padding > 0) trimEnd(last, padding);
      decodedInStream = 0;
      streamEnded = true;
    }
    await decodeBatch();
    return chunks;
  };
  return {
    decode: (chunk: Uint8Array) => decodePages(pagesOf(parser.parseChunk(chunk))),
    flush: () => decodePages(pagesOf(parser.flush())),
  };
};

/** The pages the parser yields (its typings say Iterator; it is a generator). */
const pagesOf = (pages: Iterator<CodecFrame | OggPage>): OggPage[] => {
  const out: OggPage[] = [];
  for (let next = pages.next(); !next.done; next = pages.next()) out.push(next.value as OggPage);
  return out;
};

const trimEnd = (chunk: DecodedChunk, samples: number): void => {
  chunk.channelData = chunk.channelData.map((data) => data.subarray(0, data.length - samples));
  chunk.samplesDecoded -= samples;
};
