import { AudioError } from '../errors.ts';
import { fourCc } from './detect.ts';
import { checkDecodedValues, checkDuration, checkStreamParameters } from './limits.ts';
import { type PcmEncoding, type PcmLayout, pcmToMono } from './pcm.ts';
import type { MonoPcm } from './types.ts';

/** IEEE 754 80-bit extended (AIFF's sample rate field): sign+15-bit exponent, 64-bit mantissa with explicit 1. */
export const readExtended80 = (view: DataView, offset: number): number => {
  const signExponent = view.getUint16(offset);
  const hi = view.getUint32(offset + 2);
  const lo = view.getUint32(offset + 6);
  const exponent = signExponent & 0x7fff;
  if (exponent === 0 && hi === 0 && lo === 0) return 0;
  if (exponent === 0x7fff) return Number.NaN;
  const mantissa = hi * 2 ** 32 + lo;
  const value = mantissa * 2 ** (exponent - 16383 - 63);
  return signExponent & 0x8000 ? -value : value;
};

/** AIFF-C compression types we decode: 4cc → encoding, container bytes (0 = from sampleSize), byte order. */
const AIFC_TYPES: Record<string, { encoding: PcmEncoding; bytes: number; bigEndian: boolean }> = {
  NONE: { encoding: 'int', bytes: 0, bigEndian: true },
  twos: { encoding: 'int', bytes: 0, bigEndian: true },
  sowt: { encoding: 'int', bytes: 0, bigEndian: false },
  fl32: { encoding: 'float', bytes: 4, bigEndian: true },
  FL32: { encoding: 'float', bytes: 4, bigEndian: true },
  fl64: { encoding: 'float', bytes: 8, bigEndian: true },
  FL64: { encoding: 'float', bytes: 8, bigEndian: true },
  ulaw: { encoding: 'mulaw', bytes: 1, bigEndian: true },
  ULAW: { encoding: 'mulaw', bytes: 1, bigEndian: true },
  alaw: { encoding: 'alaw', bytes: 1, bigEndian: true },
  ALAW: { encoding: 'alaw', bytes: 1, bigEndian: true },
};

interface CommChunk {
  channels: number;
  frames: number;
  sampleSize: number;
  sampleRate: number;
  /** AIFF-C compression type ('NONE' for plain AIFF). */
  type: string;
}

interface AiffChunks {
  comm: CommChunk | undefined;
  /** First sample byte; -1 when there is no SSND chunk. */
  soundOffset: number;
  soundBytes: number;
}

const readComm = (
  bytes: Uint8Array,
  view: DataView,
  body: number,
  size: number,
  isAifc: boolean,
): CommChunk => {
  if (size < 18 || body + 18 > bytes.length)
    throw new AudioError('CORRUPT_AUDIO', 'AIFF COMM chunk is truncated');
  const hasType = isAifc && size >= 22 && body + 22 <= bytes.length;
  return {
    channels: view.getInt16(body),
    frames: view.getUint32(body + 2),
    sampleSize: view.getInt16(body + 6),
    // Rounded: rates are integral in practice, and the resampler works on integer rates.
    sampleRate: Math.round(readExtended80(view, body + 8)),
    type: hasType ? fourCc(bytes, body + 18) : 'NONE',
  };
};

/** Walks the chunks after the FORM header for COMM and SSND, each checked against the bytes present. */
const readChunks = (bytes: Uint8Array, view: DataView): AiffChunks => {
  const isAifc = fourCc(bytes, 8) === 'AIFC';
  const found: AiffChunks = { comm: undefined, soundOffset: -1, soundBytes: 0 };
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = fourCc(bytes, offset);
    const size = view.getUint32(offset + 4);
    const body = offset + 8;
    if (id === 'COMM') {
      found.comm = readComm(bytes, view, body, size, isAifc);
    } else if (id === 'SSND') {
      if (body + 8 > bytes.length) throw new AudioError('CORRUPT_AUDIO', 'AIFF SSND chunk is truncated');
      const dataOffset = view.getUint32(body); // alignment padding before the first sample
      found.soundOffset = body + 8 + dataOffset;
      found.soundBytes = Math.max(0, size - 8 - dataOffset);
    }
    offset = body + size + (size & 1);
  }
  return found;
};

/** How COMM says the samples are stored; UNSUPPORTED_FORMAT or CORRUPT_AUDIO where we cannot read them. */
const layoutOf = (comm: CommChunk): PcmLayout => {
  const type = AIFC_TYPES[comm.type];
  if (!type) throw new AudioError('UNSUPPORTED_FORMAT', `AIFF-C compression '${comm.type}' is not supported`);
  checkStreamParameters('AIFF', comm.sampleRate, comm.channels);
  const bytesPerSample = type.bytes || Math.ceil(comm.sampleSize / 8);
  if (bytesPerSample < 1 || bytesPerSample > 8 || (type.encoding === 'int' && bytesPerSample > 4)) {
    throw new AudioError(
      'UNSUPPORTED_FORMAT',
      `AIFF sample size of ${comm.sampleSize} bits is not supported`,
    );
  }
  return { encoding: type.encoding, bytesPerSample, channels: comm.channels, bigEndian: type.bigEndian };
};

/** The declared length against the limits, then against the sound data the file really holds. */
const checkSoundData = (
  bytes: Uint8Array,
  comm: CommChunk,
  { soundOffset, soundBytes }: AiffChunks,
  layout: PcmLayout,
  maxDurationSec: number,
): void => {
  checkDuration('AIFF header', comm.frames, comm.sampleRate, maxDurationSec);
  checkDecodedValues('AIFF header', comm.frames * comm.channels, 'declares');
  if (comm.frames === 0 || soundOffset < 0)
    throw new AudioError('EMPTY_AUDIO', 'AIFF file holds no sample frames');
  const frameBytes = layout.bytesPerSample * comm.channels;
  const declaredBytes = comm.frames * frameBytes;
  const available = Math.min(soundBytes, Math.max(0, bytes.length - soundOffset));
  if (declaredBytes > available) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `AIFF header declares ${comm.frames} frames (${declaredBytes} bytes) but the file holds ${available} bytes`,
    );
  }
};

/**
 * Decodes AIFF / AIFF-C (big-endian PCM, 'sowt' little-endian PCM, float, G.711) to mono. A small
 * hand-written parser: no maintained npm package fits, and TESS itself ships two AIFF files named .wav.
 * 8-bit AIFF is signed (unlike WAV).
 */
export const decodeAiff = (bytes: Uint8Array, maxDurationSec: number): MonoPcm => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks = readChunks(bytes, view);
  const { comm } = chunks;
  if (!comm) throw new AudioError('CORRUPT_AUDIO', 'AIFF file has no COMM chunk (or it is cut off)');
  const layout = layoutOf(comm);
  checkSoundData(bytes, comm, chunks, layout, maxDurationSec);
  return {
    samples: pcmToMono(bytes, chunks.soundOffset, comm.frames, layout),
    sampleRate: comm.sampleRate,
    channels: comm.channels,
  };
};
