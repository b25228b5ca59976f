import { AudioError } from '../errors.ts';
import { vorbisPackage } from './codec-packages.ts';
import { checkDecodedValues, checkDuration, checkStreamParameters } from './limits.ts';
import { END_OF_STREAM, HEADER_BYTES, lastPageHeader, oggStreams } from './ogg-packets.ts';
import {
  decodeOggOpusStreams,
  OPUS_MIN_PACKET_SEC,
  OPUS_RATE,
  opusDecodeRate,
  opusLayout,
  withOpusDecoder,
} from './opus.ts';
import { createMonoCollector, decodeChunked, type MonoOptions, SharedDecoder } from './stream.ts';
import type { MonoPcm } from './types.ts';

interface OggStreamInfo {
  channels: number;
  /** Vorbis: the stream's rate; Opus: always 48 kHz, the rate its granule positions count at (whatever rate it was recorded or is decoded at). */
  sampleRate: number;
  preSkip: number;
  /** Granule position of the last page (samples at `sampleRate`, incl. pre-skip for Opus); -1 if unknown. */
  lastGranule: number;
  /** Whether the last page is complete and carries the end-of-stream flag (a cut-off file fails this). */
  endOfStream: boolean;
}

const readIdHeader = (
  bytes: Uint8Array,
  codec: 'vorbis' | 'opus',
): Omit<OggStreamInfo, 'lastGranule' | 'endOfStream'> => {
  const packet = HEADER_BYTES + bytes[26]!;
  if (bytes.length < packet + 19)
    throw new AudioError('CORRUPT_AUDIO', 'Ogg file is cut off inside its first page');
  const view = new DataView(bytes.buffer, bytes.byteOffset + packet);
  return codec === 'vorbis'
    ? { channels: view.getUint8(11), sampleRate: view.getUint32(12, true), preSkip: 0 }
    : { channels: view.getUint8(9), sampleRate: OPUS_RATE, preSkip: view.getUint16(10, true) };
};

/**
 * The last page's granule position and whether it ends the stream: a page whose segment table promises
 * more bytes than the file holds was cut off, whatever its flags say.
 */
const readLastPage = (bytes: Uint8Array): { granule: number; endOfStream: boolean } => {
  const page = lastPageHeader(bytes);
  if (!page) return { granule: -1, endOfStream: false };
  return { granule: page.granule, endOfStream: page.complete && (page.flags & END_OF_STREAM) !== 0 };
};

/**
 * Ogg Opus at the rate libopus can give for `outputRate`, from our own page reader (ogg-packets.ts); the
 * decoder's layout is the first page's OpusHead (readIdHeader checked it is there).
 */
const decodeOggOpus = (bytes: Uint8Array, channels: number, options: MonoOptions) => {
  const rate = opusDecodeRate(options.outputRate);
  // Two header packets per stream besides the audio, each audio packet ≥ 2.5 ms.
  const maxPackets = Math.ceil(options.maxDurationSec / OPUS_MIN_PACKET_SEC) + 2;
  const streams = oggStreams(bytes, maxPackets, options.container);
  const collector = createMonoCollector(options);
  const layout = opusLayout(bytes.subarray(HEADER_BYTES + bytes[26]!), channels);
  return withOpusDecoder(layout, rate, async (decoder) => {
    await decodeOggOpusStreams(decoder, { channels: layout.channels, rate }, streams, collector.take);
    return collector.result();
  });
};

export const vorbisDecoder = new SharedDecoder(async () => new (await vorbisPackage()).OggVorbisDecoder());

/**
 * Ogg Vorbis / Ogg Opus via the WASM decoders. The last page's granule position gives the length before
 * decoding (TOO_LONG without decoding); a stream whose last page lacks the end-of-stream flag was cut off.
 */
export const decodeOgg = async (
  bytes: Uint8Array,
  codec: 'vorbis' | 'opus',
  maxDurationSec: number,
  outputRate?: number,
): Promise<MonoPcm> => {
  const name = codec === 'vorbis' ? 'Ogg Vorbis' : 'Ogg Opus';
  const id = readIdHeader(bytes, codec);
  checkStreamParameters(name, id.sampleRate, id.channels);
  const last = readLastPage(bytes);
  if (last.granule > 0) {
    checkDuration(`${name} stream`, last.granule - id.preSkip, id.sampleRate, maxDurationSec);
    checkDecodedValues(`${name} stream`, (last.granule - id.preSkip) * id.channels, 'declares');
  }
  if (!last.endOfStream) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `${name} stream ends without its end-of-stream page (truncated file?)`,
    );
  }
  const common = { container: name, maxDurationSec, outputRate, chunkBytes: 16_384 };
  const result =
    codec === 'vorbis'
      ? await vorbisDecoder.use((decoder) =>
          decodeChunked(bytes, { ...common, decode: (c) => decoder.decode(c), flush: () => decoder.flush() }),
        )
      : await decodeOggOpus(bytes, id.channels, { container: name, maxDurationSec, outputRate });
  if (result.errors.length > 0)
    throw new AudioError('CORRUPT_AUDIO', `${name} data is corrupt: ${result.errors[0]}`);
  // Opus decodes at the output rate (opusDecodeRate); granule positions count at the stream's rate.
  const decoded = result.frames * (id.sampleRate / (result.sampleRate || id.sampleRate));
  const declared = last.granule > 0 ? last.granule - id.preSkip : 0;
  // Pages that parse but whose packets do not decode (damaged headers or data) yield too few samples
  // without any error from the decoder: compare with the last page's granule position. Tolerance: one
  // long Vorbis block / a few Opus frames.
  if (declared > 0 && decoded < declared - 4096) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `${name} stream declares ${declared} samples but only ${decoded} could be decoded (damaged data?)`,
    );
  }
  if (decoded === 0) throw new AudioError('EMPTY_AUDIO', `${name} stream holds no audio`);
  return { samples: result.samples, sampleRate: id.sampleRate, outputRate, channels: id.channels };
};
