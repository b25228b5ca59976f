import { AudioError } from '../errors.ts';
import { mpegPackage } from './codec-packages.ts';
import { findMpegSync, id3v2Size, isMpegFrameHeader } from './detect.ts';
import { checkDecodedValues, checkDuration, checkStreamParameters } from './limits.ts';
import { type ChunkedDecodeResult, decodeChunked, SharedDecoder } from './stream.ts';
import type { MonoPcm } from './types.ts';
import { resetMpegInPlace } from './wasm-reset.ts';

const SAMPLE_RATES = [
  [11025, 12000, 8000], // MPEG 2.5
  [0, 0, 0],
  [22050, 24000, 16000], // MPEG 2
  [44100, 48000, 32000], // MPEG 1
];

interface FirstFrame {
  sampleRate: number;
  channels: number;
  samplesPerFrame: number;
  /** Frame count from a Xing/Info (LAME) or VBRI header, if the encoder wrote one. */
  declaredFrames?: number;
}

const readFirstFrame = (bytes: Uint8Array, offset: number): FirstFrame => {
  const b1 = bytes[offset + 1]!;
  const version = (b1 >> 3) & 3;
  const layer = (b1 >> 1) & 3; // 3 = layer I, 2 = II, 1 = III
  const sampleRate = SAMPLE_RATES[version]![(bytes[offset + 2]! >> 2) & 3]!;
  const mono = bytes[offset + 3]! >> 6 === 3;
  const mpeg1 = version === 3;
  const samplesPerFrame = layer === 3 ? 384 : layer === 2 || mpeg1 ? 1152 : 576;
  // Xing/Info sits after the side information, whose size depends on version and channel mode.
  const sideInfo = mpeg1 ? (mono ? 17 : 32) : mono ? 9 : 17;
  const xing = offset + 4 + sideInfo;
  const tag = String.fromCharCode(...bytes.subarray(xing, xing + 4));
  let declaredFrames: number | undefined;
  if ((tag === 'Xing' || tag === 'Info') && xing + 12 <= bytes.length && bytes[xing + 7]! & 1) {
    const view = new DataView(bytes.buffer, bytes.byteOffset + xing + 8, 4);
    declaredFrames = view.getUint32(0);
  } else if (
    String.fromCharCode(...bytes.subarray(offset + 36, offset + 40)) === 'VBRI' &&
    offset + 54 <= bytes.length
  ) {
    declaredFrames = new DataView(bytes.buffer, bytes.byteOffset + offset + 50, 4).getUint32(0);
  }
  return { sampleRate, channels: mono ? 1 : 2, samplesPerFrame, declaredFrames };
};

// Gapless on: LAME's header tells mpg123 the encoder delay and padding, so the length matches the source.
export const mpegDecoder = new SharedDecoder(
  async () => new (await mpegPackage()).MPEGDecoder({ enableGapless: true }),
);

/** Offset of the first MPEG frame header: right after the ID3v2 tag, or at the next sync found. */
const firstFrameOffset = (bytes: Uint8Array): number => {
  const tagEnd = id3v2Size(bytes);
  if (tagEnd >= bytes.length)
    throw new AudioError('EMPTY_AUDIO', 'MP3 file holds an ID3 tag but no audio frames');
  const first = isMpegFrameHeader(bytes, tagEnd) ? tagEnd : findMpegSync(bytes, tagEnd);
  if (first < 0) throw new AudioError('CORRUPT_AUDIO', 'MP3 file has no MPEG frame after its ID3 tag');
  return first;
};

/** Refuses, from the first frame (and its Xing/Info or VBRI count, if any), a stream beyond the limits. */
const checkFirstFrame = (frame: FirstFrame, maxDurationSec: number): void => {
  checkStreamParameters('MP3', frame.sampleRate, frame.channels);
  if (frame.declaredFrames === undefined) return;
  checkDuration('MP3 header', frame.declaredFrames * frame.samplesPerFrame, frame.sampleRate, maxDurationSec);
  checkDecodedValues('MP3 header', frame.declaredFrames * frame.samplesPerFrame * frame.channels, 'declares');
};

/** Decodes the frames from offset `first` on the shared mpg123 decoder, mixed to mono (see `decodeChunked`). */
const decodeFrames = (
  bytes: Uint8Array,
  first: number,
  frame: FirstFrame,
  maxDurationSec: number,
  outputRate: number | undefined,
): Promise<ChunkedDecodeResult> =>
  mpegDecoder.use(async (decoder) => {
    try {
      return await decodeChunked(bytes.subarray(first), {
        container: 'MP3',
        maxDurationSec,
        outputRate,
        decode: (chunk) => decoder.decode(chunk),
        // An MPEG frame (≥ 24 bytes) holds at most 1152 samples: 16 KiB expands to ≤ 0.8 M samples.
        chunkBytes: 16_384,
        useChannels: () => frame.channels,
      });
    } finally {
      // mpg123 keeps stream state (and gapless info) between files: a fresh handle, in place if we can.
      if (!resetMpegInPlace(decoder)) await decoder.reset();
    }
  });

/** CORRUPT_AUDIO when nothing decoded, or clearly less than the Xing/Info frame count declares. */
const checkDecodedLength = (frame: FirstFrame, result: ChunkedDecodeResult): void => {
  const decoded = result.frames;
  if (decoded === 0) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `MP3 data could not be decoded${result.errors[0] ? `: ${result.errors[0]}` : ''}`,
    );
  }
  if (frame.declaredFrames !== undefined) {
    // Gapless trimming removes encoder delay/padding (< 2 frames), so allow that much below the frame total.
    const expected = frame.declaredFrames * frame.samplesPerFrame;
    if (decoded < expected - 3 * frame.samplesPerFrame) {
      throw new AudioError(
        'CORRUPT_AUDIO',
        `MP3 header declares ${frame.declaredFrames} frames (${expected} samples) but only ${decoded} could be decoded (truncated file?)`,
      );
    }
  }
};

/**
 * MP3 (and MPEG layer I/II) via mpg123-decoder. mpg123 always outputs two channels, even for a mono
 * stream: the channel mode of the first frame decides whether we average both or take one.
 * When the encoder wrote a Xing/Info frame count we check the decoded length against it (a truncated
 * MP3 otherwise decodes silently short).
 */
export const decodeMp3 = async (
  bytes: Uint8Array,
  maxDurationSec: number,
  outputRate?: number,
): Promise<MonoPcm> => {
  const first = firstFrameOffset(bytes);
  const frame = readFirstFrame(bytes, first);
  checkFirstFrame(frame, maxDurationSec);
  const result = await decodeFrames(bytes, first, frame, maxDurationSec, outputRate);
  checkDecodedLength(frame, result);
  return {
    samples: result.samples,
    sampleRate: result.sampleRate || frame.sampleRate,
    outputRate,
    channels: frame.channels,
  };
};
