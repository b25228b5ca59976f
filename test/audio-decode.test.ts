import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MPEGDecoder } from 'mpg123-decoder';
import { OggOpusDecoder } from 'ogg-opus-decoder';
import { OpusDecoder } from 'opus-decoder';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import wavefile from 'wavefile';
import { layoutOf, writeField } from '../bin/fuzz-layout.ts';
import { writeFlac } from '../bin/memory-cases.ts';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { detectFormat } from '../lambdas/core/audio/detect.ts';
import { readStreamInfo } from '../lambdas/core/audio/flac.ts';
import { checkCodecFrames, checkDuration, MAX_CODEC_FRAMES } from '../lambdas/core/audio/limits.ts';
import { oggStreams } from '../lambdas/core/audio/ogg-packets.ts';
import { decodeOpusPackets } from '../lambdas/core/audio/opus.ts';
import { resample } from '../lambdas/core/audio/resample.ts';
import type { AudioFormat, DecodedAudio } from '../lambdas/core/audio/types.ts';
import { resetMpegInPlace, resetOpusInPlace } from '../lambdas/core/audio/wasm-reset.ts';
import { AudioError } from '../lambdas/core/errors.ts';

interface ManifestEntry {
  path: string;
  format: AudioFormat | null;
  sampleRate: number | null;
  channels: number | null;
  durationSec: number | null;
  frames: number | null;
  lossless: boolean;
  reference?: string;
  expectError?: string;
  containerDurationSec?: number;
  emotion?: string;
}

const fixtures = join(import.meta.dirname, 'fixtures');
const manifest = JSON.parse(readFileSync(join(fixtures, 'manifest.json'), 'utf8')) as ManifestEntry[];
const load = (path: string): Uint8Array => new Uint8Array(readFileSync(join(fixtures, path)));
const valid = manifest.filter((entry) => !entry.expectError);
const invalid = manifest.filter((entry) => entry.expectError);

/** One codec frame, the tolerance on decoded length for lossy formats. */
const LOSSY_FRAME: Partial<Record<AudioFormat, number>> = {
  mp3: 1152,
  'ogg-vorbis': 2048,
  'ogg-opus': 960,
  mp4: 2048, // AAC frames are 1024 samples; priming and padding are trimmed from the edit list
  webm: 960, // WebM's DiscardPadding (the last Opus frame's padding) is not applied
};

/**
 * Independent reference decoder for WAV: wavefile's own (slow, generic) unpacking and G.711 tables,
 * normalised by bit depth and averaged to mono here.
 */
const wavefileMono = (bytes: Uint8Array): Float64Array => {
  const wav = new wavefile.WaveFile();
  wav.fromBuffer(bytes);
  if (wav.bitDepth === '8a') wav.fromALaw();
  if (wav.bitDepth === '8m') wav.fromMuLaw();
  const fmt = wav.fmt as { audioFormat: number; numChannels: number; bitsPerSample: number };
  const raw = wav.getSamples(true, Float64Array) as unknown as Float64Array;
  const depth = wav.bitDepth as string;
  const isFloat = depth === '32f' || depth === '64' || fmt.audioFormat === 3;
  const bits = Number.parseInt(depth, 10);
  const normalise = (x: number): number => (isFloat ? x : bits === 8 ? (x - 128) / 128 : x / 2 ** (bits - 1));
  const channels = fmt.numChannels;
  const mono = new Float64Array(raw.length / channels);
  for (let i = 0; i < raw.length; i++) mono[Math.floor(i / channels)]! += normalise(raw[i]!) / channels;
  return mono;
};

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
};
const rms = (x: ArrayLike<number>): number => {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]! * x[i]!;
  return Math.sqrt(sum / x.length);
};

describe('detectFormat', () => {
  it.each(manifest.filter((e) => e.format))('recognises $path as $format from its bytes', (entry) => {
    expect(detectFormat(load(entry.path))).toBe(entry.format);
  });

  it('reads past an ID3v2 tag in front of FLAC', () => {
    const flac = load('generated/pcm16.flac');
    const id3 = new Uint8Array([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5]);
    const tagged = new Uint8Array(id3.length + flac.length);
    tagged.set(id3);
    tagged.set(flac, id3.length);
    expect(detectFormat(tagged)).toBe('flac');
  });

  it('recognises a raw MPEG stream without an ID3 tag and decodes it the same', async () => {
    const tagged = load('generated/mono-44k.mp3');
    const tagSize = 10 + (((tagged[6]! * 128 + tagged[7]!) * 128 + tagged[8]!) * 128 + tagged[9]!);
    const raw = tagged.slice(tagSize);
    expect(raw[0]).toBe(0xff);
    expect(detectFormat(raw)).toBe('mp3');
    expect((await decodeAudio(raw)).samples).toEqual((await decodeAudio(tagged)).samples);
  });

  it.each([
    ['AAC ADTS', [0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc]],
    ['a HEIF image (ISO BMFF, brand heic)', [0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x68, 0x65, 0x69, 0x63]],
    ['EBML that is neither WebM nor Matroska', [0x1a, 0x45, 0xdf, 0xa3, 0x84, 0x42, 0x82, 0x81, 0x78]],
  ])('leaves %s to UNSUPPORTED_FORMAT', async (_name, bytes) => {
    const input = new Uint8Array(64);
    input.set(bytes);
    expect(detectFormat(input)).toBeUndefined();
    await expect(decodeAudio(input)).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT' });
  });

  it('does not claim Ogg streams of other codecs, text or tiny inputs', () => {
    const oggFlac = load('generated/vorbis-16k.ogg').slice(0, 64);
    oggFlac.set([0x7f, 0x46, 0x4c, 0x41, 0x43, 0x01, 0x00], 27 + oggFlac[26]!);
    expect(detectFormat(oggFlac)).toBeUndefined();
    expect(detectFormat(new TextEncoder().encode('RIFF but not really'))).toBeUndefined();
    expect(detectFormat(new Uint8Array([0xff]))).toBeUndefined();
  });
});

describe('decodeAudio on valid fixtures', () => {
  it.each(valid)('$path decodes to its declared rate, channels and length', async (entry) => {
    const decoded = await decodeAudio(load(entry.path));
    expect(decoded.format).toBe(entry.format);
    expect(decoded.sampleRate).toBe(entry.sampleRate);
    expect(decoded.channels).toBe(entry.channels);
    const tolerance = entry.lossless ? 0 : LOSSY_FRAME[entry.format!]!;
    expect(Math.abs(decoded.samples.length - entry.frames!)).toBeLessThanOrEqual(tolerance);
    expect(decoded.durationSec).toBeCloseTo(decoded.samples.length / decoded.sampleRate, 9);
    expect(decoded.samples.every((x) => x >= -1 && x <= 1)).toBe(true);
  });

  it.each(valid.filter((e) => e.format === 'wav'))(
    '$path matches wavefile’s decoding of the same file',
    async (entry) => {
      const bytes = load(entry.path);
      const decoded = await decodeAudio(bytes);
      const reference = wavefileMono(bytes);
      expect(decoded.samples.length).toBe(reference.length);
      expect(maxAbsDiff(decoded.samples, reference)).toBeLessThan(1e-6);
    },
  );

  it.each(valid.filter((e) => e.reference && e.path !== e.reference))(
    '$path equals its reference $reference within quantisation',
    async (entry) => {
      const decoded = await decodeAudio(load(entry.path));
      const reference = wavefileMono(load(entry.reference!));
      expect(decoded.samples.length).toBe(reference.length);
      // 16/24-bit, float and FLAC/AIFF are exact; 8-bit PCM is within one 8-bit step; G.711 within half
      // of its largest quantisation step (1024/32768 in the top segment).
      const tolerance = entry.path.includes('pcm8')
        ? 1 / 128
        : /law/.test(entry.path)
          ? 512 / 32768 + 1e-6
          : 1e-6;
      expect(maxAbsDiff(decoded.samples, reference)).toBeLessThanOrEqual(tolerance);
    },
  );

  it.each(valid.filter((e) => e.format === 'flac'))(
    '$path decodes to exactly the STREAMINFO sample count (no silently dropped last frame)',
    async (entry) => {
      const bytes = load(entry.path);
      const decoded = await decodeAudio(bytes);
      expect(decoded.samples.length).toBe(readStreamInfo(bytes).totalSamples);
    },
  );

  it('mixes channels by averaging (6 channels with gains 1…0 give half the clip)', async () => {
    const six = await decodeAudio(load('generated/6ch-16k.wav'));
    const reference = wavefileMono(load('generated/6ch-16k.wav'));
    expect(maxAbsDiff(six.samples, reference)).toBeLessThan(1e-6);
    const mono = await decodeAudio(load('generated/pcm16.wav'));
    expect(rms(six.samples) / rms(mono.samples)).toBeCloseTo(0.5, 1);
  });

  it.each(valid.filter((e) => !e.lossless && e.format !== 'wav' && e.path.startsWith('generated/')))(
    'lossy $path keeps the clip’s loudness (mono is not doubled or halved)',
    async (entry) => {
      const decoded = await decodeAudio(load(entry.path));
      const reference = await decodeAudio(load('generated/pcm16.wav'));
      const gainDb = 20 * Math.log10(rms(decoded.samples) / rms(reference.samples));
      expect(Math.abs(gainDb)).toBeLessThan(1);
    },
  );

  it('gives the same result when decodes run concurrently (shared decoder instances)', async () => {
    const paths = valid.filter((e) => e.format !== 'wav' && e.format !== 'aiff').map((e) => e.path);
    const sequential: number[] = [];
    for (const path of paths) sequential.push((await decodeAudio(load(path))).samples.length);
    const concurrent = await Promise.all(
      paths.map(async (path) => (await decodeAudio(load(path))).samples.length),
    );
    expect(concurrent).toEqual(sequential);
  });
});

describe('MP4 and WebM: decoded length against the container’s own', () => {
  it.each(valid.filter((e) => e.containerDurationSec))(
    '$path decodes to the duration its container declares',
    async (entry) => {
      const decoded = await decodeAudio(load(entry.path));
      // WASM decoders fail by stopping early without an error: compare with what the container says
      // (ffprobe at generation time), within one codec frame.
      const frame = LOSSY_FRAME[entry.format!]! / decoded.sampleRate;
      expect(Math.abs(decoded.durationSec - entry.containerDurationSec!)).toBeLessThanOrEqual(frame);
    },
  );

  it('takes the first audio track of a video file, whatever comes first', async () => {
    const video = await decodeAudio(load('generated/video-aac-44k.mp4'));
    const audioOnly = await decodeAudio(load('generated/aac-44k.m4a'));
    expect(video.samples.length).toBe(audioOnly.samples.length);
    expect((await decodeAudio(load('generated/video-opus-48k.webm'))).format).toBe('webm');
  });

  it('refuses an MP4 without an audio track as UNSUPPORTED_FORMAT', async () => {
    // ftyp + a moov whose only track is video (hdlr 'vide').
    const box = (type: string, ...children: Uint8Array[]) => {
      const body = Buffer.concat(children);
      const header = Buffer.alloc(8);
      header.writeUInt32BE(8 + body.length);
      header.write(type, 4, 'ascii');
      return Buffer.concat([header, body]);
    };
    const hdlr = box('hdlr', Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0x76, 0x69, 0x64, 0x65, 0, 0, 0, 0]));
    const file = Buffer.concat([
      box('ftyp', Buffer.from('isom\0\0\0\0isom', 'latin1')),
      box('moov', box('trak', box('mdia', hdlr))),
    ]);
    await expect(decodeAudio(new Uint8Array(file))).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT' });
  });
});

describe('decodeAudio on bad input', () => {
  it.each(invalid)('$path fails with $expectError', async (entry) => {
    const error = await decodeAudio(load(entry.path)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AudioError);
    expect((error as AudioError).code).toBe(entry.expectError);
    expect((error as AudioError).message.length).toBeGreaterThan(10);
  });

  it.each([
    ['generated/pcm16.wav', 0.5],
    ['generated/pcm16.flac', 0.5],
    ['generated/mono-44k.mp3', 0.5],
    ['generated/vorbis-16k.ogg', 0.5],
    ['generated/opus-48k.opus', 0.5],
    ['generated/pcm16.aiff', 0.5],
    ['generated/aac-44k.m4a', 0.5],
    ['generated/opus-48k.webm', 0.5],
    ['generated/vorbis-16k.mkv', 0.5],
  ])('%s is TOO_LONG with maxDurationSec %d', async (path, maxDurationSec) => {
    const error = await decodeAudio(load(path), { maxDurationSec }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AudioError);
    expect((error as AudioError).code).toBe('TOO_LONG');
  });

  it('shows a length just over the limit with the digits that put it over (not "600.0 s; the limit is 600 s")', async () => {
    // A 16 kHz mono WAV header declaring 9 600 004 frames (600.00025 s), its data cut short: refused from the header.
    const frames = 9_600_004;
    const wav = new wavefile.WaveFile();
    wav.fromScratch(1, 16_000, '16', new Int16Array(32));
    const bytes = wav.toBuffer();
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    view.setUint32(4, 36 + frames * 2, true); // the RIFF size and the data chunk's size claim 600.00025 s
    view.setUint32(40, frames * 2, true);

    const error = await decodeAudio(bytes).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'TOO_LONG' });
    expect((error as AudioError).message).toMatch(
      /^WAV header declares 600\.000[23] s of audio .*; the limit is 600 s$/,
    );
    // One decimal as before when it shows the excess; "just over" past six.
    expect(() => checkDuration('X', 660, 1, 600)).toThrow('X declares 660.0 s of audio; the limit is 600 s');
    expect(() => checkDuration('X', 600 + 1e-9, 1, 600)).toThrow('X declares just over 600 s of audio');
    expect(() => checkDuration('X', 600, 1, 600)).not.toThrow();
  });

  it('stops decoding a FLAC without a declared length once the limit is passed', async () => {
    const flac = load('generated/pcm16.flac').slice();
    // STREAMINFO total samples = 0 means "unknown": the limit must then be enforced while decoding.
    flac[8 + 13] = flac[8 + 13]! & 0xf0;
    flac.fill(0, 8 + 14, 8 + 18);
    await expect(decodeAudio(flac, { maxDurationSec: 0.3 })).rejects.toMatchObject({ code: 'TOO_LONG' });
    expect((await decodeAudio(flac)).samples.length).toBe(24414);
  });
});

describe('WAV and AIFF header variants', () => {
  const pcm16 = load('generated/pcm16.wav');

  it('decodes RF64 (64-bit sizes in ds64)', async () => {
    const dataBytes = pcm16.length - 44;
    const rf64 = new Uint8Array(pcm16.length + 36);
    const view = new DataView(rf64.buffer);
    rf64.set(new TextEncoder().encode('RF64'), 0);
    view.setUint32(4, 0xffffffff, true);
    rf64.set(new TextEncoder().encode('WAVEds64'), 8);
    view.setUint32(16, 28, true);
    view.setUint32(20, rf64.length - 8, true);
    view.setUint32(28, dataBytes, true);
    view.setUint32(36, dataBytes / 2, true);
    rf64.set(pcm16.subarray(12), 48); // fmt chunk, data chunk and samples
    view.setUint32(48 + 24 + 4, 0xffffffff, true); // data size lives in ds64
    const decoded = await decodeAudio(rf64);
    expect(decoded.samples).toEqual((await decodeAudio(pcm16)).samples);
  });

  it('treats a data size of 0xFFFFFFFF (streamed WAV) as "to the end of the file"', async () => {
    const streamed = pcm16.slice();
    new DataView(streamed.buffer).setUint32(40, 0xffffffff, true);
    expect((await decodeAudio(streamed)).samples.length).toBe(24414);
  });

  // arecord to a pipe (alsa-utils aplay.c: 2 GiB cap) and SoX (MS_UNSPEC); docs/dependencies.md
  it.each([
    ['0x80000000', 0x80000000],
    ['0x7FFFF000', 0x7ffff000],
  ])(
    'treats the streaming placeholder %s as "to the end of the file" when the file holds less',
    async (_hex, placeholder) => {
      // Arrange: the clip as streamed, and cut off mid-recording as a pipe closed early
      const streamed = pcm16.slice();
      new DataView(streamed.buffer).setUint32(40, placeholder, true);
      const cut = streamed.subarray(0, 44 + 2 * 8000);

      // Act
      const whole = await decodeAudio(streamed);
      const part = await decodeAudio(cut);

      // Assess: every sample there is, the same as with the true size
      expect(whole.samples).toEqual((await decodeAudio(pcm16)).samples);
      expect(part.samples.length).toBe(8000);
    },
  );

  it.each([
    ['generated/pcm24.wav', 3, 0x7fffefff],
    ['generated/6ch-16k.wav', 12, 0x7fffeffc],
  ])(
    'treats SoX\'s placeholder rounded to whole frames as "to the end of the file" (%s: %i-byte frames)',
    async (name, frameBytes, placeholder) => {
      // Arrange: SoX writes floor(MS_UNSPEC / block align) × block align (docs/dependencies.md)
      const original = load(name);
      const streamed = original.slice();
      const view = new DataView(streamed.buffer);
      let offset = 12;
      while (String.fromCharCode(...streamed.subarray(offset, offset + 4)) !== 'data')
        offset += 8 + view.getUint32(offset + 4, true);
      expect(view.getUint16(32, true)).toBe(frameBytes); // the fmt chunk's block align
      view.setUint32(offset + 4, placeholder, true);

      // Act / Assess
      expect((await decodeAudio(streamed)).samples).toEqual((await decodeAudio(original)).samples);
    },
  );

  it('still refuses a data size over the file that is no placeholder: TOO_LONG, or CORRUPT_AUDIO when cut', async () => {
    // Arrange: one more than arecord's placeholder; the clip's true size with half the data missing
    const overrun = pcm16.slice();
    new DataView(overrun.buffer).setUint32(40, 0x80000001, true);
    const truncated = pcm16.subarray(0, 44 + 2 * 8000);

    // Act / Assess
    await expect(decodeAudio(overrun)).rejects.toMatchObject({ code: 'TOO_LONG' });
    await expect(decodeAudio(truncated)).rejects.toMatchObject({ code: 'CORRUPT_AUDIO' });
  });

  it('reads AIFF 80-bit sample rates and signed 8-bit samples', async () => {
    const frames = 441;
    const aiff = new Uint8Array(12 + 26 + 16 + frames);
    const view = new DataView(aiff.buffer);
    const text = (offset: number, s: string) => aiff.set(new TextEncoder().encode(s), offset);
    text(0, 'FORM');
    view.setUint32(4, aiff.length - 8);
    text(8, 'AIFFCOMM');
    view.setUint32(16, 18);
    view.setInt16(20, 1);
    view.setUint32(22, frames);
    view.setInt16(26, 8);
    // 44100 = 1.3458251953125 × 2^15 → exponent 16383 + 15, mantissa 0xAC44 << 48.
    view.setUint16(28, 16383 + 15);
    view.setUint32(30, 0xac440000);
    text(38, 'SSND');
    view.setUint32(42, 8 + frames);
    for (let i = 0; i < frames; i++) view.setInt8(54 + i, i % 2 ? -128 : 64);
    const decoded = await decodeAudio(aiff);
    expect(decoded.sampleRate).toBe(44100);
    expect(decoded.format).toBe('aiff');
    expect(Array.from(decoded.samples.subarray(0, 2))).toEqual([0.5, -1]);
  });
});

describe('decodeAudio on damaged copies of valid files', () => {
  /** Deterministic xorshift so failures reproduce. */
  const random = (seed: number) => () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };

  it.each([
    'generated/pcm16.wav',
    'generated/6ch-16k.wav',
    'generated/pcm16.aiff',
    'generated/pcm16.flac',
    'generated/mono-44k.mp3',
    'generated/vorbis-16k.ogg',
    'generated/opus-48k.opus',
  ])(
    '%s: truncated or with flipped bytes it decodes or fails with an AudioError, never anything else',
    async (path) => {
      // The WASM decoders report damaged frames on console.error as well as in their results.
      const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
      const next = random(0x9e3779b9);
      const original = load(path);
      try {
        for (let k = 0; k < 24; k++) {
          let bytes = original.slice();
          if (k % 3 === 0) bytes = bytes.slice(0, Math.floor(next() * bytes.length));
          else {
            const span = k % 3 === 1 ? Math.min(bytes.length, 200) : bytes.length; // header region or anywhere
            for (let j = 0; j < 12; j++) bytes[Math.floor(next() * span)] = Math.floor(next() * 256);
          }
          const outcome: DecodedAudio | unknown = await decodeAudio(bytes).catch((e: unknown) => e);
          if (outcome instanceof Error) {
            expect(outcome).toBeInstanceOf(AudioError);
          } else {
            expect((outcome as DecodedAudio).samples.every((x) => x >= -1 && x <= 1)).toBe(true);
          }
        }
      } finally {
        quiet.mockRestore();
      }
    },
  );
});

describe('the shared FLAC decoder', () => {
  it('gives the same samples whatever was decoded before, a corrupt file included', async () => {
    const first = await decodeAudio(load('tess/OAF_back_sad.flac'));
    await decodeAudio(load('tess/OAF_food_fear.flac')); // 96 kHz
    await expect(decodeAudio(load('bad/garbage-frames.flac'))).rejects.toBeInstanceOf(AudioError);
    await expect(decodeAudio(load('bad/truncated.flac'))).rejects.toBeInstanceOf(AudioError);
    const again = await decodeAudio(load('tess/OAF_back_sad.flac'));
    expect(again.sampleRate).toBe(first.sampleRate);
    expect(again.samples).toEqual(first.samples);
  });

  it('decodes sound files of another block size after others (libFLAC MISSING_FRAME on a reused decoder)', async () => {
    // RAVDESS cut by ffmpeg (1152-sample blocks) after TESS (4096): the reused decoder once refused these.
    const clips = join(import.meta.dirname, '../bench/clips');
    const tess = new Uint8Array(readFileSync(join(clips, 'tess-OAF_gap_sad.flac')));
    const ravdess = new Uint8Array(readFileSync(join(clips, 'ravdess-03-01-03-02-02-01-06.flac')));
    const fresh = await decodeAudio(ravdess);
    for (let round = 0; round < 3; round++) {
      await decodeAudio(tess);
      const again = await decodeAudio(ravdess);
      expect(again.samples).toEqual(fresh.samples);
    }
  });
});

describe('the shared MP3 decoder', () => {
  const clips = join(import.meta.dirname, '../bench/clips');
  const clip = (name: string) => new Uint8Array(readFileSync(join(clips, name)));

  it('gives the same samples whatever was decoded before, a truncated file included', async () => {
    // Prepare
    const first = await decodeAudio(clip('tess-OAF_gap_sad-44k.mp3'));

    // Act: other files through the same WASM instance (mpg123's handle re-created in place between them).
    await decodeAudio(clip('tess-YAF_join_disgust-44k.mp3'));
    await decodeAudio(load('bad/truncated.mp3')).catch(() => undefined);
    await decodeAudio(load('generated/mono-44k.mp3'));
    const again = await decodeAudio(clip('tess-OAF_gap_sad-44k.mp3'));

    // Assess
    expect(again.samples).toEqual(first.samples);
  });

  it('re-creates the mpg123 handle in place with the pinned mpg123-decoder (no new WASM instance per file)', async () => {
    const decoder = new MPEGDecoder({ enableGapless: true });
    await decoder.ready;
    expect(resetMpegInPlace(decoder)).toBe(true);
    decoder.free();
  });
});

describe('the shared Opus decoder (Ogg and WebM)', () => {
  const clips = join(import.meta.dirname, '../bench/clips');
  const clip = (name: string) => new Uint8Array(readFileSync(join(clips, name)));

  it('decodes Ogg Opus sample for sample as ogg-opus-decoder does (which made a new instance per file)', async () => {
    const reference = new OggOpusDecoder();
    await reference.ready;
    for (const name of ['tess-OAF_gap_sad.opus', 'tess-YAF_join_disgust.opus']) {
      // Act
      const ours = await decodeAudio(clip(name));

      // Assess: the files are mono; our mix to mono only clamps to [-1, 1].
      const { channelData } = await reference.decodeFile(clip(name));
      expect(channelData).toHaveLength(1);
      expect(ours.samples).toEqual(channelData[0]!.map((x) => Math.max(-1, Math.min(1, x))));
    }
    reference.free();
  });

  it('gives the same samples whatever was decoded before, truncated files included', async () => {
    // Prepare
    const ogg = await decodeAudio(clip('tess-OAF_gap_sad.opus'));
    const webm = await decodeAudio(clip('tess-OAF_gap_sad.webm'));

    // Act: other streams through the same WASM instance (libopus re-created in place between them).
    await decodeAudio(clip('tess-YAF_join_disgust.webm'));
    await decodeAudio(load('bad/truncated.opus')).catch(() => undefined);
    await decodeAudio(load('bad/truncated.webm')).catch(() => undefined);
    await decodeAudio(clip('tess-YAF_join_disgust.opus'));

    // Assess
    expect((await decodeAudio(clip('tess-OAF_gap_sad.opus'))).samples).toEqual(ogg.samples);
    expect((await decodeAudio(clip('tess-OAF_gap_sad.webm'))).samples).toEqual(webm.samples);
  });

  it('decodes straight to 16 kHz in libopus: the span of the 48 kHz decode (pre-skip and padding count at 48 kHz), aligned with it', async () => {
    for (const name of ['tess-OAF_gap_sad.opus', 'tess-YAF_join_disgust.webm']) {
      // Prepare: the 48 kHz decode through our resampler.
      const full = await decodeAudio(clip(name));
      const reference = resample(full.samples, full.sampleRate, 16_000);

      // Act
      const direct = await decodeAudio(clip(name), { outputRate: 16_000 });

      // Assess: same length, the source's rate reported, and no shift (a pre-skip of 312 samples at
      // 16 kHz instead of 104 would move the signal 13 ms earlier and cut it short).
      expect(direct.samples.length).toBe(reference.length);
      expect(direct.sourceSampleRate).toBe(48_000);
      const errorDb = (lag: number) => {
        let error = 0;
        let power = 0;
        for (let i = 8; i < reference.length - 8; i++) {
          error += (reference[i]! - direct.samples[i + lag]!) ** 2;
          power += reference[i]! ** 2;
        }
        return 10 * Math.log10(error / power);
      };
      expect(errorDb(0)).toBeLessThan(-10);
      expect(errorDb(0)).toBeLessThan(errorDb(-3) - 6);
      expect(errorDb(0)).toBeLessThan(errorDb(3) - 6);
    }
  });

  it('stops decoding at the end a stream declares, however many packets follow (a crafted small final granule)', async () => {
    // Prepare: a real clip's audio packets 40 times over (23 batches), through the real decoder, counted.
    const audio = oggStreams(clip('tess-OAF_gap_sad.opus'), 10_000, 'test')[0]!.packets.slice(2);
    const packets = Array.from({ length: 40 }, () => audio).flat();
    const decoder = new OpusDecoder({ channels: 1, sampleRate: 16_000 });
    await decoder.ready;
    let calls = 0;
    const counted = new Proxy(decoder, {
      get: (target, key) =>
        key === 'decodeFrames'
          ? (frames: Uint8Array[]) => {
              calls++;
              return target.decodeFrames(frames);
            }
          : Reflect.get(target, key),
    });
    let samples = 0;

    // Act
    decodeOpusPackets(counted, packets, (chunk) => (samples += chunk.samplesDecoded), {
      channels: 1,
      rate: 16_000,
      keep: 1000,
    });

    // Assess: one batch decoded, cut to the 1000 samples kept.
    expect(calls).toBe(1);
    expect(samples).toBe(1000);
    decoder.free();
  });

  it('sizes each decoder call by the channels: 64 channels of 120 ms packets, at most ~1 M values a call', async () => {
    // Prepare: 40 packets of 64 uncoupled streams, each 6 × 20 ms of CELT (zero-length frames): 120 ms.
    const channels = 64;
    const packet = new Uint8Array((channels - 1) * 3 + 2);
    for (let s = 0; s < channels - 1; s++) packet.set([0xfb, 0x06, 0x00], s * 3); // self-delimited
    packet.set([0xfb, 0x06], (channels - 1) * 3);
    const decoder = new OpusDecoder({
      channels,
      streamCount: channels,
      coupledStreamCount: 0,
      channelMappingTable: Array.from({ length: channels }, (_, i) => i),
      sampleRate: 16_000,
    });
    await decoder.ready;
    const values: number[] = [];
    let frames = 0;

    // Act
    decodeOpusPackets(
      decoder,
      new Array(40).fill(packet),
      (chunk) => {
        values.push(chunk.samplesDecoded * chunk.channelData.length);
        frames += chunk.samplesDecoded;
      },
      { channels, rate: 16_000 },
    );

    // Assess: all 4.8 s decoded, in calls of 8 packets (983 040 values) instead of one of 4.9 M.
    expect(frames).toBe(40 * 1920);
    expect(values).toHaveLength(5);
    expect(Math.max(...values)).toBeLessThanOrEqual(2 ** 20);
    decoder.free();
  });

  it('re-creates libopus in place with the pinned opus-decoder, and asks for a new instance every 100 times', async () => {
    const decoder = new OpusDecoder({ channels: 1, preSkip: 312 });
    await decoder.ready;
    const results = Array.from({ length: 101 }, () => resetOpusInPlace(decoder));
    expect(results.slice(0, 100).every(Boolean)).toBe(true);
    expect(results[100]).toBe(false); // ~23 KB of its heap leak per re-creation
    await decoder.reset();
    expect(resetOpusInPlace(decoder)).toBe(true);
    decoder.free();
  });
});

describe('FLAC frame budget: tiny blocks cost per frame, refused before the work', () => {
  // 10 minutes of 16 kHz silence in 16-sample blocks: 599 000 frames, 10.7 MB, ~50 s of decoding before.
  let file: Uint8Array;
  beforeAll(() => {
    file = writeFlac({ sampleRate: 16000, channels: 1, totalFrames: 16000 * 599, blockSize: 16 });
  });
  const tinyFrames = () => file.slice();

  it('refuses a stream whose STREAMINFO declares more frames than the budget, from the header', async () => {
    const error = await decodeAudio(tinyFrames()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AudioError);
    expect(error).toMatchObject({
      code: 'TOO_LARGE',
      message: expect.stringMatching(/declares 599000 frames/),
    });
  });

  it('counts frames while decoding when STREAMINFO hides them (unknown length, largest block claimed)', async () => {
    const bytes = tinyFrames();
    bytes.set([0xff, 0xff], 8 + 2); // maximum block size: 65535
    bytes[8 + 13]! &= 0xf0; // total samples: 0 = unknown
    bytes.fill(0, 8 + 14, 8 + 18);
    const error = await decodeAudio(bytes).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TOO_LARGE', message: expect.stringMatching(/holds more than/) });
  });

  it('accepts the budget itself and refuses one frame more (one home: MAX_CODEC_FRAMES)', () => {
    expect(() => checkCodecFrames('FLAC', MAX_CODEC_FRAMES, 'declares')).not.toThrow();
    expect(() => checkCodecFrames('FLAC', MAX_CODEC_FRAMES + 1, 'declares')).toThrow(AudioError);
  });
});

describe('MP4 sample tables whose entry counts exceed their boxes (found by npm run fuzz: minutes in the decoder)', () => {
  it.each([
    ['generated/opus-48k.mp4', 'stsc.entries'],
    ['generated/video-aac-44k.mp4', 'stco.entries'],
    ['generated/aac-48k.mov', 'stsz.count'],
    ['tess-formats/YAF_base_disgust.mov', 'stts.entries'],
  ])('%s with %s = 2^31 − 1 is CORRUPT_AUDIO at once', async (path, name) => {
    const bytes = load(path);
    const field = layoutOf('mp4', bytes).fields.find((f) => f.name === name);
    expect(field).toBeDefined();
    writeField(bytes, field!, 2 ** 31 - 1);
    const error = await decodeAudio(bytes).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'CORRUPT_AUDIO',
      message: expect.stringMatching(`'${name.split('.')[0]}'`),
    });
  });
});
