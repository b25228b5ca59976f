import type { OpusDecoderSampleRate, OpusDecoder as RateDecoder } from 'opus-decoder';
import { opusPackage } from './codec-packages.ts';
import type { OggLogicalStream } from './ogg-packets.ts';
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

/** The least audio an Opus packet holds (RFC 6716 §2.1.4): 2.5 ms. */
export const OPUS_MIN_PACKET_SEC = 0.0025;

/** The most audio an Opus packet holds (RFC 6716 §3.2.5): 120 ms. */
const OPUS_MAX_PACKET_SEC = 0.12;

/**
 * Opus packets per decoder call: ≈ 5 s of 20 ms frames, so the duration limit bites early, and no more
 * than ~1 M sample values (≈ 4 MB of floats, as FLAC's calls) should every packet hold 120 ms: 64
 * channels of 256 such packets were 31.5 M values per call, decoded and copied before the budget check.
 */
export const opusBatch = (channels: number, rate: number): number => {
  const maxValuesPerPacket = channels * Math.ceil(rate * OPUS_MAX_PACKET_SEC);
  return Math.max(1, Math.min(256, Math.floor(2 ** 20 / maxValuesPerPacket)));
};

/** How `decodeOpusPackets` decodes: the decoder's channels and rate, and where to stop. */
export interface OpusDecodeOptions {
  channels: number;
  /** The decoder's output rate. */
  rate: number;
  /** Samples at `rate` to keep; decoding stops there. */
  keep?: number;
}

/**
 * Decodes Opus packets in batches (`opusBatch`) into `take`. With `keep`, decoding stops there and what
 * was decoded past it — the encoder's padding after the stream's last granule position — is cut
 * (without stopping, a small final granule would let every packet after it be decoded and thrown away,
 * past any duration limit).
 */
export const decodeOpusPackets = (
  decoder: OpusDecoder,
  packets: readonly Uint8Array[],
  take: (chunk: DecodedChunk) => void,
  { channels, rate, keep = Number.POSITIVE_INFINITY }: OpusDecodeOptions,
): void => {
  const batch = opusBatch(channels, rate);
  let decoded = 0;
  for (let i = 0; i < packets.length && decoded < keep; i += batch) {
    const chunk = decoder.decodeFrames(packets.slice(i, i + batch));
    const excess = decoded + chunk.samplesDecoded - keep;
    if (excess > 0) trimEnd(chunk, excess);
    decoded += chunk.samplesDecoded;
    take(chunk);
  }
};

/**
 * The logical streams of an Ogg Opus file (the first and any chained after it) into `take`: each
 * stream's packets after its OpusHead and OpusTags, from a fresh decoder state, cut at its last page's
 * granule position less its pre-skip (RFC 7845 §4; both count at 48 kHz, the decoder at `rate`).
 * `channels` is the decoder's (its layout is the first stream's).
 */
export const decodeOggOpusStreams = async (
  decoder: OpusDecoder,
  { channels, rate }: Omit<OpusDecodeOptions, 'keep'>,
  streams: readonly OggLogicalStream[],
  take: (chunk: DecodedChunk) => void,
): Promise<void> => {
  for (const [index, stream] of streams.entries()) {
    if (index > 0) await freshState(decoder);
    const { preSkip } = opusLayout(stream.packets[0], 1);
    const keep =
      stream.ended && stream.lastGranule >= 0
        ? Math.round(((stream.lastGranule - preSkip) * rate) / OPUS_RATE)
        : undefined;
    decodeOpusPackets(decoder, stream.packets.slice(2), take, { channels, rate, keep });
  }
};

const trimEnd = (chunk: DecodedChunk, samples: number): void => {
  const kept = Math.max(0, chunk.samplesDecoded - samples);
  chunk.channelData = chunk.channelData.map((data) => data.subarray(0, kept));
  chunk.samplesDecoded = kept;
};
