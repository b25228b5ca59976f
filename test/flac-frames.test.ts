import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc8, crc16, writeFlac } from '../bin/memory-cases.ts';
import { concatenated } from '../lambdas/core/audio/concat.ts';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { readStreamInfo } from '../lambdas/core/audio/flac.ts';
import { firstFrameOffset, flacFrames, frameHeaderLength } from '../lambdas/core/audio/flac-frames.ts';
import { AudioError } from '../lambdas/core/errors.ts';

const fixtures = join(import.meta.dirname, 'fixtures');
const load = (path: string): Uint8Array => new Uint8Array(readFileSync(join(fixtures, path)));
const concat = (...parts: Uint8Array[]) => concatenated(parts, Uint8Array);

/** A fixed-block frame header: 4096 samples, rate from STREAMINFO, mono 16-bit, frame `number` (< 128), CRC-8. */
function header(number: number): Uint8Array {
  const bytes = new Uint8Array([0xff, 0xf8, 0xc0, 0x08, number]);
  return concat(bytes, new Uint8Array([crc8(bytes)]));
}

/** `content` followed by its CRC-16, as a frame ends. */
function withFooter(content: Uint8Array): Uint8Array {
  const footer = crc16(content);
  return concat(content, new Uint8Array([footer >> 8, footer & 0xff]));
}

/** A "frame": its header, `body`, and the CRC-16 footer over both. */
const frame = (number: number, body: Uint8Array): Uint8Array => withFooter(concat(header(number), body));

/**
 * A decodable frame: 4096 samples (block size written out in 16 bits) at 16 kHz, mono, 16 or 32 bits,
 * stored verbatim (`sample(i)`), with both CRCs.
 */
function verbatimFrame(number: number, sample: (i: number) => number, bits: 16 | 32 = 16): Uint8Array {
  const depthCode = bits === 16 ? 4 : 7;
  const head = new Uint8Array([0xff, 0xf8, 0x75, depthCode << 1, number, 0x0f, 0xff]);
  const bytes = bits / 8;
  const body = new Uint8Array(1 + 4096 * bytes);
  body[0] = 0x02; // subframe type: verbatim
  const view = new DataView(body.buffer);
  for (let i = 0; i < 4096; i++) {
    if (bits === 16) view.setInt16(1 + 2 * i, sample(i));
    else view.setInt32(1 + 4 * i, sample(i));
  }
  return withFooter(concat(head, new Uint8Array([crc8(head)]), body));
}

describe('flacFrames (our FLAC frame reader)', () => {
  it('reads a valid header and refuses one whose CRC-8 or reserved bits are wrong', () => {
    const good = header(3);
    expect(frameHeaderLength(concat(good, new Uint8Array(4)), 0)).toBe(6);
    const badCrc = good.slice();
    badCrc[5]! ^= 1;
    expect(frameHeaderLength(concat(badCrc, new Uint8Array(4)), 0)).toBe(0);
    const reservedDepth = good.slice();
    reservedDepth[3] = 0x06; // sample size code 3 is reserved
    expect(frameHeaderLength(concat(reservedDepth, new Uint8Array(4)), 0)).toBe(0);
  });

  it('does not split a frame at a valid-looking header inside its data that does not continue the stream', () => {
    // Prepare: frame 0 carries, inside its data, a valid header numbered 5 (CRC-8 and all).
    const first = frame(0, concat(new Uint8Array([1, 2, 3]), header(5), new Uint8Array([4, 5, 6])));
    const second = frame(1, new Uint8Array([7, 8, 9]));
    const file = concat(first, second);

    // Act
    const frames = [...flacFrames(file, 0)];

    // Assess
    expect(frames.map((f) => f.length)).toEqual([first.length, second.length]);
    expect(frames[1]).toEqual(second);
  });

  it('ends a damaged frame at the header that continues it, and finds a boundary by CRC-16 past a lost frame', () => {
    const damaged = frame(0, new Uint8Array([1, 2, 3]));
    damaged[7]! ^= 0xff; // its CRC-16 no longer holds
    const next = frame(1, new Uint8Array([4, 5, 6]));
    const afterGap = frame(3, new Uint8Array([7, 8])); // frame 2 is missing
    const frames = [...flacFrames(concat(damaged, next, afterGap), 0)];
    expect(frames.map((f) => f.length)).toEqual([damaged.length, next.length, afterGap.length]);
  });

  it('skips bytes that are not a frame, and gives the last frame the rest of the file', () => {
    const garbage = new Uint8Array([0xff, 0xf8, 0, 0, 0x42, 0x13, 0xff]);
    const first = frame(0, new Uint8Array([1, 2, 3]));
    const last = frame(1, new Uint8Array([4, 5]));
    const trailing = new Uint8Array([0x54, 0x41, 0x47, 0xff, 0xf8]); // "TAG"…
    const frames = [...flacFrames(concat(garbage, first, last, trailing), 0)];
    expect(frames.map((f) => f.length)).toEqual([first.length, last.length + trailing.length]);
  });

  it('finds the first frame after the metadata blocks, or by searching when a block length is damaged', () => {
    const bytes = load('flac-quirks/YAF_time_sad.flac');
    const walked = firstFrameOffset(bytes, 0);
    expect(frameHeaderLength(bytes, walked)).toBeGreaterThan(0);
    const damaged = bytes.slice();
    damaged[4 + 3] = 0x30; // STREAMINFO's length: 48 instead of 34
    expect(firstFrameOffset(damaged, 0)).toBe(4);
    expect([...flacFrames(damaged, 4)][0]!.byteOffset).toBe(walked);
  });
});

describe('FLAC files through the frame reader', () => {
  // TESS YAF_time_sad: 13 frames of 4096 samples and a final one of 79 (`flac -t` finds it sound).
  const bytes = load('flac-quirks/YAF_time_sad.flac');
  const { totalSamples } = readStreamInfo(bytes);

  it('decodes a short final frame (codec-parser, used before, lost it)', async () => {
    const decoded = await decodeAudio(bytes);
    expect(totalSamples).toBe(53_327);
    expect(decoded.samples.length).toBe(totalSamples);
  });

  it('decodes every sample of a file with bytes after its last frame (codec-parser dropped that frame)', async () => {
    const tagged = concat(bytes, new Uint8Array(128).fill(0x54));
    const decoded = await decodeAudio(tagged);
    expect(decoded.samples).toEqual((await decodeAudio(bytes)).samples);
  });

  it('refuses a file whose final frame is damaged (codec-parser dropped it and the file passed, short)', async () => {
    const damaged = bytes.slice();
    damaged[damaged.length - 10]! ^= 0xff;
    const error = await decodeAudio(damaged).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AudioError);
    expect(error).toMatchObject({ code: 'CORRUPT_AUDIO' });
  });

  it('refuses a file cut at a frame boundary, one frame short', async () => {
    const frames = [...flacFrames(bytes, firstFrameOffset(bytes, 0))];
    const cut = bytes.subarray(0, frames.at(-1)!.byteOffset);
    const error = await decodeAudio(cut).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'CORRUPT_AUDIO',
      message: expect.stringMatching(/declares 53327 samples/),
    });
  });

  it('reads 2 MB of valid-looking headers with no valid frame once, not once per header, and refuses it', async () => {
    // Each 6-byte header passes its CRC-8; no CRC-16 ever holds. A reader that re-checked the CRC-16
    // from the frame's start at every candidate would do ~10^11 steps here.
    const metadata = bytes.subarray(0, firstFrameOffset(bytes, 0));
    const file = new Uint8Array(metadata.length + 350_000 * 6);
    file.set(metadata);
    for (let at = metadata.length; at < file.length; at += 6) file.set(header(0), at);
    const error = await decodeAudio(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AudioError);
    expect(error).toMatchObject({ code: 'CORRUPT_AUDIO' });
  });

  it('refuses a file cut inside a frame even when STREAMINFO gives no length (libFLAC returns nothing, no error)', async () => {
    // Prepare: STREAMINFO of 16 kHz mono 16-bit with no length, then five verbatim frames of 4096
    // samples (rate and block size in each header: libFLAC needs nothing from STREAMINFO), the second
    // cut in half.
    const info = writeFlac({ sampleRate: 16000, channels: 1, totalFrames: 4096, blockSize: 4096 });
    const metadata = info.slice(0, firstFrameOffset(info, 0));
    metadata[8 + 13]! &= 0xf0; // total samples: unknown
    metadata.fill(0, 8 + 14, 8 + 18);
    const frames = [0, 1, 2, 3, 4].map((n) =>
      verbatimFrame(n, (i) => Math.round(9000 * Math.sin((n * 4096 + i) / 50))),
    );
    const cut = concat(
      metadata,
      frames[0]!,
      frames[1]!.subarray(0, frames[1]!.length >> 1),
      ...frames.slice(2),
    );

    // Act
    const whole = await decodeAudio(concat(metadata, ...frames));
    const error = await decodeAudio(cut).catch((e: unknown) => e);

    // Assess: libFLAC gives the first frame's 4096 samples and no error for the cut file.
    expect(whole.samples.length).toBe(5 * 4096);
    expect(error).toMatchObject({
      code: 'CORRUPT_AUDIO',
      message: expect.stringMatching(/could be decoded/),
    });
  });

  it('decodes 32-bit frames (bit depth code 7, RFC 9639), which codec-parser took for reserved', async () => {
    const info = writeFlac({ sampleRate: 16000, channels: 1, totalFrames: 4096 * 2, blockSize: 4096 });
    const metadata = info.slice(0, firstFrameOffset(info, 0));
    metadata[8 + 12]! |= 1; // bits per sample − 1 = 31
    metadata[8 + 13] = (metadata[8 + 13]! & 0x0f) | 0xf0;
    const tone = (i: number) => Math.round(2 ** 30 * Math.sin(i / 20));
    const decoded = await decodeAudio(
      concat(metadata, verbatimFrame(0, tone, 32), verbatimFrame(1, tone, 32)),
    );
    expect(decoded.samples.length).toBe(2 * 4096);
    expect(decoded.samples[20]).toBeCloseTo(0.5 * Math.sin(1), 5);
  });

  it('refuses a STREAMINFO bit depth no FLAC has (1 bit would scale every sample to 0)', async () => {
    const oneBit = bytes.slice();
    oneBit[8 + 12] = oneBit[8 + 12]! & 0xfe; // bits per sample − 1 = 0
    oneBit[8 + 13] = oneBit[8 + 13]! & 0x0f;
    const error = await decodeAudio(oneBit).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'CORRUPT_AUDIO',
      message: expect.stringMatching(/1 bits per sample/),
    });
  });
});

describe('FLAC frames whose headers declare more than STREAMINFO does', () => {
  it('decodes in groups bounded by each frame header, not by STREAMINFO, and stops at the limit', async () => {
    // 20 000 constant frames of 65 535 samples (~13 bytes each, 0.3 MB) behind a STREAMINFO claiming
    // 16-sample blocks and no length: grouped by STREAMINFO, one decoder call took all of them (~10 GB).
    const file = writeFlac({ sampleRate: 16000, channels: 1, totalFrames: 65535 * 20_000, blockSize: 65535 });
    file.set([0, 16, 0, 16], 8); // minimum and maximum block size: 16
    file[8 + 13]! &= 0xf0; // total samples: unknown
    file.fill(0, 8 + 14, 8 + 18);
    const error = await decodeAudio(file).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TOO_LONG', message: expect.stringMatching(/stopped decoding/) });
  });
});
