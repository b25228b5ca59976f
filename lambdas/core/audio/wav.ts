import { AudioError } from '../errors.ts';
import { fourCc } from './detect.ts';
import { checkDecodedValues, checkDuration, checkStreamParameters } from './limits.ts';
import { type PcmLayout, pcmToMono } from './pcm.ts';
import type { MonoPcm } from './types.ts';

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_ALAW = 0x0006;
const WAVE_FORMAT_MULAW = 0x0007;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** RF64's data size when the real one is in ds64; also ffmpeg's placeholder when it writes to a pipe. */
const UNKNOWN_SIZE = 0xffffffff;
/**
 * Data sizes that writers streaming to a pipe leave in the header, never rewritten: the data runs to the end
 * of the file when it holds less (docs/dependencies.md). ffmpeg writes 0xFFFFFFFF, arecord 0x80000000 (its
 * 2 GiB cap for WAV); SoX `MS_UNSPEC` (0x7FFFF000) rounded down to whole frames (`soxStreamingSize`). Any
 * other size that overruns the file is a truncated file.
 */
const STREAMING_SIZES = new Set([UNKNOWN_SIZE, 0x8000_0000]);
/** SoX's placeholder for a frame of `frameBytes`: 0x7FFFF000 itself for 1, 2, 4, 8 bytes, 0x7FFFEFFF for 3. */
const soxStreamingSize = (frameBytes: number): number => Math.floor(0x7fff_f000 / frameBytes) * frameBytes;
const isStreamingSize = (size: number, frameBytes: number): boolean =>
  STREAMING_SIZES.has(size) || size === soxStreamingSize(frameBytes);

const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

interface FmtChunk {
  formatTag: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
}

const readFmt = (view: DataView, offset: number, size: number, le: boolean): FmtChunk => {
  if (size < 16)
    throw new AudioError('CORRUPT_AUDIO', `WAV fmt chunk is ${size} bytes (at least 16 expected)`);
  let formatTag = view.getUint16(offset, le);
  if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
    // The real format is the first two bytes of the SubFormat GUID (after cbSize, validBits, channelMask).
    if (size < 40)
      throw new AudioError('CORRUPT_AUDIO', `WAV extensible fmt chunk is ${size} bytes (40 expected)`);
    formatTag = view.getUint16(offset + 24, le);
  }
  return {
    formatTag,
    channels: view.getUint16(offset + 2, le),
    sampleRate: view.getUint32(offset + 4, le),
    blockAlign: view.getUint16(offset + 12, le),
    bitsPerSample: view.getUint16(offset + 14, le),
  };
};

const layoutOf = (fmt: FmtChunk, bigEndian: boolean): PcmLayout => {
  const { formatTag, bitsPerSample, channels } = fmt;
  const bytesPerSample = Math.ceil(bitsPerSample / 8);
  const unsupported = () =>
    new AudioError(
      'UNSUPPORTED_FORMAT',
      `WAV encoding ${hex(formatTag)} with ${bitsPerSample} bits per sample is not supported ` +
        '(PCM 8/16/24/32-bit, float 32/64-bit, A-law and µ-law are)',
    );
  switch (formatTag) {
    case WAVE_FORMAT_PCM:
      if (bitsPerSample < 1 || bitsPerSample > 32) throw unsupported();
      // 8-bit WAV is unsigned; wider WAV is signed, left-justified in its container (so scale by the container).
      return { encoding: bytesPerSample === 1 ? 'uint8' : 'int', bytesPerSample, channels, bigEndian };
    case WAVE_FORMAT_IEEE_FLOAT:
      if (bitsPerSample !== 32 && bitsPerSample !== 64) throw unsupported();
      return { encoding: 'float', bytesPerSample, channels, bigEndian };
    case WAVE_FORMAT_ALAW:
    case WAVE_FORMAT_MULAW:
      if (bitsPerSample !== 8) throw unsupported();
      return {
        encoding: formatTag === WAVE_FORMAT_ALAW ? 'alaw' : 'mulaw',
        bytesPerSample: 1,
        channels,
        bigEndian,
      };
    default:
      throw unsupported();
  }
};

/** What the chunk walk found: the format, and where the sample data starts and how long it says it is. */
interface WavChunks {
  fmt: FmtChunk | undefined;
  /** -1 when there is no data chunk. */
  dataOffset: number;
  /** The data chunk's size (from ds64 for RF64), or a streaming writer's placeholder (`isStreamingSize`). */
  dataSize: number;
}

/** Walks the chunks after the RIFF header, each size checked against the bytes present before it is read. */
const readChunks = (bytes: Uint8Array, view: DataView, riff: string, le: boolean): WavChunks => {
  const found: WavChunks = { fmt: undefined, dataOffset: -1, dataSize: 0 };
  let rf64DataSize: number | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = fourCc(bytes, offset);
    const size = view.getUint32(offset + 4, le);
    const body = offset + 8;
    if (id === 'ds64' && riff === 'RF64') {
      if (size < 24 || body + 24 > bytes.length)
        throw new AudioError('CORRUPT_AUDIO', 'RF64 ds64 chunk is truncated');
      rf64DataSize = view.getUint32(body + 8, true) + view.getUint32(body + 12, true) * 2 ** 32;
    } else if (id === 'fmt ') {
      if (body + Math.min(size, 40) > bytes.length) {
        throw new AudioError('CORRUPT_AUDIO', `WAV fmt chunk declares ${size} bytes but the file ends first`);
      }
      found.fmt = readFmt(view, body, size, le);
    } else if (id === 'data') {
      found.dataOffset = body;
      found.dataSize =
        riff === 'RF64' && size === UNKNOWN_SIZE && rf64DataSize !== undefined ? rf64DataSize : size;
      if (found.fmt) break; // data is normally last; anything after it is metadata we do not need
    }
    if (id === 'data' && STREAMING_SIZES.has(size)) break;
    offset = body + size + (size & 1); // chunks are word aligned
  }
  return found;
};

/**
 * The number of sample frames to decode, after the declared length has passed the limits and been found
 * in the file: declared length first, so a tiny file claiming an hour is refused as TOO_LONG without
 * reading further.
 */
const framesToDecode = (
  bytes: Uint8Array,
  { dataOffset, dataSize }: WavChunks,
  fmt: FmtChunk,
  layout: PcmLayout,
  maxDurationSec: number,
): number => {
  const available = bytes.length - dataOffset;
  const frameBytes = layout.bytesPerSample * fmt.channels;
  const unknownLength = isStreamingSize(dataSize, frameBytes) && dataSize > available;
  const declaredBytes = unknownLength ? available : dataSize;
  checkDuration(
    'WAV header',
    Math.floor(declaredBytes / frameBytes),
    fmt.sampleRate,
    maxDurationSec,
    declaredBytes > available ? ` (${declaredBytes} bytes, but the file holds ${available})` : '',
  );
  checkDecodedValues('WAV header', Math.floor(declaredBytes / layout.bytesPerSample), 'declares');
  if (declaredBytes > available) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `WAV header declares ${declaredBytes} bytes of data but the file holds ${available} (truncated file?)`,
    );
  }
  const frames = Math.floor(declaredBytes / frameBytes);
  if (frames === 0) throw new AudioError('EMPTY_AUDIO', 'WAV data chunk holds less than one sample frame');
  return frames;
};

/**
 * Decodes RIFF/RIFX/RF64 WAVE to mono. Hand-written chunk walk (not wavefile) so that every size is
 * checked against the bytes actually present before anything is allocated, and the declared length is
 * checked against `maxDurationSec` before decoding. wavefile stays the independent reference in tests.
 */
export const decodeWav = (bytes: Uint8Array, maxDurationSec: number): MonoPcm => {
  const riff = fourCc(bytes, 0);
  const le = riff !== 'RIFX';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks = readChunks(bytes, view, riff, le);
  const { fmt } = chunks;
  if (!fmt) {
    if (bytes.length <= 12)
      throw new AudioError('EMPTY_AUDIO', `WAV file of ${bytes.length} bytes holds no audio`);
    throw new AudioError('CORRUPT_AUDIO', 'WAV file has no fmt chunk (or it is cut off)');
  }
  const layout = layoutOf(fmt, !le);
  checkStreamParameters('WAV', fmt.sampleRate, fmt.channels);
  if (chunks.dataOffset < 0 || chunks.dataSize === 0) {
    throw new AudioError('EMPTY_AUDIO', 'WAV file has a header but no audio data');
  }
  const frames = framesToDecode(bytes, chunks, fmt, layout, maxDurationSec);
  return {
    samples: pcmToMono(bytes, chunks.dataOffset, frames, layout),
    sampleRate: fmt.sampleRate,
    channels: fmt.channels,
  };
};
