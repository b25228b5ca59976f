import { AudioError } from '../errors.ts';

/** The longest audio accepted by default, in seconds (`maxDurationSec` overrides it per call). */
export const DEFAULT_MAX_DURATION_SEC = 600;
/** Sample rates outside this range are not audio anyone records speech with: treated as corrupt headers. */
export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 384_000;
/**
 * Budget of decoded sample values (frames × channels) per file: 2^26 ≈ 67 M, i.e. 10 minutes of stereo
 * at 48 kHz (57.6 M) fits, 10 minutes of mono at 192 kHz does not. It bounds the decoding work (time)
 * and, with resampling while decoding, the memory a tiny file that declares a huge stream can cost;
 * over it is TOO_LARGE, from the header where the container declares its length.
 */
export const MAX_DECODED_VALUES = 2 ** 26;
/**
 * Budget of codec frames (FLAC blocks) per file: 2^17 = 131 072. Decoding costs per frame as well as per
 * sample: FLAC allows 16-sample blocks, and 10 minutes of 16 kHz in them (600 000 frames, ~10 KB per
 * second of silence) took ~50 s to decode, near the Lambda timeout, inside the values budget. 2^17 frames
 * is 10 minutes in blocks of 220 samples at 48 kHz or 73 at 16 kHz (encoders write 1152–4608); over it is
 * TOO_LARGE, from STREAMINFO (total ÷ largest block) before decoding, else counted while decoding; for a
 * compressed MP4 track, from its sample count (stsz: AAC frames are 1024 samples; 10 min of 5 ms Opus packets fits).
 */
export const MAX_CODEC_FRAMES = 2 ** 17;
/** More channels than this is not a recording we can mix meaningfully (and guards allocation). */
export const MAX_CHANNELS = 64;

/**
 * The file-size rule, the same where a client declares a size (POST /uploads) and where the processor
 * finds it (the object's headers): empty is EMPTY_AUDIO, over `maxBytes` TOO_LARGE; an unknown size passes.
 */
export const fileSizeProblem = (size: number | undefined, maxBytes: number): AudioError | undefined => {
  if (size === 0) return new AudioError('EMPTY_AUDIO', 'The file is empty');
  if (size !== undefined && size > maxBytes)
    return new AudioError('TOO_LARGE', `The file is ${size} bytes; the limit is ${maxBytes} bytes`);
  return undefined;
};

/** Rejects header values no real recording has, before anything is allocated from them. */
export const checkStreamParameters = (container: string, sampleRate: number, channels: number): void => {
  if (!Number.isFinite(sampleRate) || sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `${container} header declares a sample rate of ${sampleRate} Hz (expected ${MIN_SAMPLE_RATE}–${MAX_SAMPLE_RATE} Hz)`,
    );
  }
  if (!Number.isInteger(channels) || channels < 1) {
    throw new AudioError('CORRUPT_AUDIO', `${container} header declares ${channels} channels`);
  }
  if (channels > MAX_CHANNELS) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `${container} header declares ${channels} channels (at most ${MAX_CHANNELS} are accepted)`,
    );
  }
};

/**
 * A duration over `limit` written so that the number shown is over it too: one decimal as a rule, more when
 * rounding would show the limit itself (600.00025 s is "600.0003", not "600.0"), else "just over".
 */
const secondsOver = (seconds: number, limit: number): string => {
  for (let digits = 1; digits <= 6; digits++) {
    const shown = seconds.toFixed(digits);
    if (Number(shown) > limit) return shown;
  }
  return `just over ${limit}`;
};

/** Throws TOO_LONG when a declared or decoded length exceeds the limit. */
export const checkDuration = (
  container: string,
  frames: number,
  sampleRate: number,
  maxDurationSec: number,
  detail = '',
): void => {
  const seconds = frames / sampleRate;
  if (seconds > maxDurationSec) {
    throw new AudioError(
      'TOO_LONG',
      `${container} declares ${secondsOver(seconds, maxDurationSec)} s of audio${detail}; the limit is ${maxDurationSec} s`,
    );
  }
};

/**
 * Throws TOO_LARGE when `values` (sample frames × channels, declared or decoded so far) exceeds the
 * decoding budget: the work and memory a file may cost, whatever its duration says.
 */
export const checkDecodedValues = (container: string, values: number, how: 'declares' | 'decoded'): void => {
  if (values > MAX_DECODED_VALUES) {
    const millions = (values / 1e6).toFixed(1);
    throw new AudioError(
      'TOO_LARGE',
      `${container} ${how === 'declares' ? 'declares' : 'decodes to more than'} ${millions} M samples (frames × channels); ` +
        `the limit is ${(MAX_DECODED_VALUES / 1e6).toFixed(1)} M (e.g. 10 min of stereo at 48 kHz fits)`,
    );
  }
};

/**
 * Throws TOO_LARGE when `frames` (codec frames, e.g. FLAC blocks, declared or parsed so far) exceeds the
 * frame budget: the per-frame decoding work a file of tiny frames costs, whatever its sample count.
 */
export const checkCodecFrames = (container: string, frames: number, how: 'declares' | 'decoded'): void => {
  if (frames > MAX_CODEC_FRAMES) {
    throw new AudioError(
      'TOO_LARGE',
      `${container} ${how === 'declares' ? `declares ${frames}` : `holds more than ${MAX_CODEC_FRAMES}`} frames; the limit is ` +
        `${MAX_CODEC_FRAMES} (10 min of 48 kHz in frames of 220 samples fits; encoders write 1152–4608)`,
    );
  }
};
