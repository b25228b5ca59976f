import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { boxInMoov, tinyAacFrames } from '../bin/memory-cases.ts';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { MAX_CODEC_FRAMES } from '../lambdas/core/audio/limits.ts';
import { moovFirst, readBoxes } from '../lambdas/core/audio/mp4.ts';
import { fragmented, fragmentedAac, framesOf } from './helpers/fragmented-mp4.ts';

/** Every input @audio/decode-mp4's streaming decoder is given, per decoder (wrapped, not replaced). */
const calls = vi.hoisted(() => ({ inputs: [] as Uint8Array[][] }));
vi.mock('@audio/decode-mp4', async (importOriginal) => {
  const real = await importOriginal<typeof import('@audio/decode-mp4')>();
  const decoder: typeof real.decoder = async () => {
    const instance = await real.decoder();
    const inputs: Uint8Array[] = [];
    calls.inputs.push(inputs);
    const decode = instance.decode.bind(instance);
    instance.decode = (chunk) => {
      if (chunk instanceof Uint8Array) inputs.push(chunk);
      return decode(chunk);
    };
    return instance;
  };
  return { ...real, decoder };
});

const load = (path: string): Uint8Array =>
  new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures', path)));
type Box = ReturnType<typeof readBoxes>[number];
const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const top = (bytes: Uint8Array, type: string): Box =>
  readBoxes(bytes, 0, bytes.length).find((b) => b.type === type)!;
const STBL = ['trak', 'mdia', 'minf', 'stbl'];

/** The file with its moov box moved to the end and the chunk offsets (stco) moved with the bytes. */
const moovLast = (bytes: Uint8Array): Uint8Array => {
  const moov = top(bytes, 'moov');
  const size = moov.end - moov.start;
  const out = new Uint8Array(bytes.length);
  out.set(bytes.subarray(0, moov.start));
  out.set(bytes.subarray(moov.end), moov.start);
  out.set(bytes.subarray(moov.start, moov.end), bytes.length - size);
  const stco = boxInMoov(out, [...STBL, 'stco']);
  for (let i = 0; i < view(out).getUint32(stco.content + 4); i++) {
    const at = stco.content + 8 + 4 * i;
    view(out).setUint32(at, view(out).getUint32(at) - size);
  }
  return out;
};

const decodeCalls = async (bytes: Uint8Array) => {
  calls.inputs.length = 0;
  const outcome = await decodeAudio(bytes).catch((error: unknown) => error);
  return { outcome, inputs: calls.inputs.flat() };
};

describe('MP4 whose moov follows mdat (ffmpeg’s and phones’ default)', () => {
  it('decodes to the same samples as the moov-first original', async () => {
    const original = load('generated/aac-faststart-44k.mp4');
    const moved = moovLast(original);
    expect(readBoxes(moved, 0, moved.length).at(-1)?.type).toBe('moov');
    const a = await decodeAudio(original);
    const b = await decodeAudio(moved);
    expect(b.samples.length).toBeGreaterThan(40_000);
    expect(b.samples).toEqual(a.samples);
  });

  it('hands the decoder moov whole first, then chunks of at most 16 KiB (no buffering until moov)', async () => {
    // 2 MB of another track's bytes in mdat before moov: the decoder once re-concatenated all it had
    // buffered on every 16 KiB call (quadratic) and decoded every sample in the call that completed moov.
    const source = load('generated/aac-44k.m4a');
    const mdat = top(source, 'mdat');
    const moov = top(source, 'moov');
    const extra = 2 ** 21;
    const bytes = new Uint8Array(source.length + extra);
    bytes.set(source.subarray(0, mdat.end));
    bytes.set(source.subarray(moov.start), mdat.end + extra);
    view(bytes).setUint32(mdat.start, mdat.end - mdat.start + extra);
    const { outcome, inputs } = await decodeCalls(bytes);
    expect(outcome).toMatchObject({ format: 'mp4' });
    expect(inputs[0]!.length).toBe(moov.end - moov.start);
    expect(String.fromCharCode(...inputs[0]!.subarray(4, 8))).toBe('moov');
    expect(Math.max(...inputs.slice(1).map((input) => input.length))).toBeLessThanOrEqual(16_384);
    expect(inputs.reduce((sum, input) => sum + input.length, 0)).toBe(bytes.length);
  });

  it('moves the chunk offsets with the bytes (moovFirst keeps each sample where its offset says)', () => {
    const bytes = load('generated/aac-44k.m4a');
    const moov = top(bytes, 'moov');
    const [header, ...rest] = moovFirst(bytes, moov);
    const stream = new Uint8Array(bytes.length);
    let at = 0;
    for (const part of [header!, ...rest]) {
      stream.set(part, at);
      at += part.length;
    }
    const offset = (file: Uint8Array) => view(file).getUint32(boxInMoov(file, [...STBL, 'stco']).content + 8);
    const sample = (file: Uint8Array) => file.subarray(offset(file), offset(file) + 64);
    expect(offset(stream)).toBe(offset(bytes) + (moov.end - moov.start));
    expect(sample(stream)).toEqual(sample(bytes));
  });
});

describe('MP4 whose moov has a 64-bit size (size 1, largesize following)', () => {
  /** The fixture (moov last) with moov's header written as 16 bytes: the same box, 8 bytes longer. */
  const largeSizeMoov = (source: Uint8Array): Uint8Array => {
    const moov = top(source, 'moov');
    expect(moov.end).toBe(source.length);
    const bytes = new Uint8Array(source.length + 8);
    bytes.set(source.subarray(0, moov.start));
    bytes.set(source.subarray(moov.start + 4, moov.start + 8), moov.start + 4);
    view(bytes).setUint32(moov.start, 1);
    view(bytes).setUint32(moov.start + 12, moov.end - moov.start + 8);
    bytes.set(source.subarray(moov.content), moov.start + 16);
    return bytes;
  };

  it('decodes to the same samples as the original (the decoder read its content from 8 bytes in)', async () => {
    const original = load('generated/aac-44k.m4a');
    const bytes = largeSizeMoov(original);
    expect(top(bytes, 'moov').content - top(bytes, 'moov').start).toBe(16);
    expect((await decodeAudio(bytes)).samples).toEqual((await decodeAudio(original)).samples);
    const [header] = moovFirst(bytes, top(bytes, 'moov'));
    expect(readBoxes(header!, 0, header!.length).map((b) => [b.type, b.content - b.start])).toEqual([
      ['moov', 8],
      ['free', 8],
    ]);
  });
});

describe('MP4 sample tables, before decoding', () => {
  it('hands a large sample over whole, not in 16 KiB pieces the decoder re-copies each time', async () => {
    // One 2 MB sample: the decoder copies all it holds on every call until the sample is whole (a 16 MB
    // sample in 16 KiB calls took 37 s).
    const bytes = tinyAacFrames(400_000, 1);
    const table = (type: string) => boxInMoov(bytes, [...STBL, type]).content;
    view(bytes).setUint32(table('stsz') + 4, 2_000_000); // one sample of 2 MB (the table's count follows)
    view(bytes).setUint32(table('stsz') + 8, 1);
    view(bytes).setUint32(table('stsc') + 12, 1);
    view(bytes).setUint32(table('stts') + 8, 1);
    const { inputs } = await decodeCalls(bytes);
    expect(inputs.length).toBeLessThanOrEqual(3);
    expect(Math.max(...inputs.map((input) => input.length))).toBeGreaterThanOrEqual(2_000_000);
  });

  it('refuses as CORRUPT_AUDIO sample sizes that add up to more than the file', async () => {
    const bytes = tinyAacFrames(1000, 1);
    const stsz = boxInMoov(bytes, [...STBL, 'stsz']).content;
    view(bytes).setUint32(stsz + 4, 0); // sizes from the table: the fixture's 45 entries, the first made huge
    view(bytes).setUint32(stsz + 8, 45);
    view(bytes).setUint32(stsz + 12, bytes.length);
    const { outcome, inputs } = await decodeCalls(bytes);
    expect(outcome).toMatchObject({
      code: 'CORRUPT_AUDIO',
      message: expect.stringMatching(/'stsz'.*in all/),
    });
    expect(inputs).toHaveLength(0);
  });
});

describe('MP4 edit lists (a trim without re-encoding keeps part of the media)', () => {
  const EDIT = ['trak', 'edts', 'elst'];
  const movieTicks = (bytes: Uint8Array) => view(bytes).getUint32(boxInMoov(bytes, ['mvhd']).content + 12);
  /** The fixture with its one edit (version 0) keeping `seconds` from `fromSec` past the priming. */
  const trimmed = (seconds: number, fromSec = 0): Uint8Array => {
    const bytes = load('generated/aac-44k.m4a').slice();
    const elst = boxInMoov(bytes, EDIT).content;
    expect(view(bytes).getUint32(elst + 4)).toBe(1);
    view(bytes).setUint32(elst + 8, Math.round(seconds * movieTicks(bytes)));
    view(bytes).setInt32(elst + 12, view(bytes).getInt32(elst + 12) + Math.round(fromSec * 44_100));
    return bytes;
  };

  it('decodes the part the edit list keeps, not CORRUPT_AUDIO for falling short of mdhd', async () => {
    const whole = await decodeAudio(load('generated/aac-44k.m4a'));
    expect(whole.samples.length).toBe(44_100); // the priming-only edit list: the source's length
    for (const fromSec of [0, 0.5]) {
      const half = await decodeAudio(trimmed(0.5, fromSec));
      expect(Math.abs(half.samples.length - 22_050)).toBeLessThanOrEqual(64);
    }
  });

  it('still refuses as CORRUPT_AUDIO samples that run out before the edit list’s end', async () => {
    const bytes = trimmed(0.9);
    const stsz = boxInMoov(bytes, [...STBL, 'stsz']).content;
    view(bytes).setUint32(stsz + 8, Math.floor(view(bytes).getUint32(stsz + 8) / 2)); // half the frames
    await expect(decodeAudio(bytes)).rejects.toMatchObject({
      code: 'CORRUPT_AUDIO',
      message: expect.stringMatching(/edit list \(elst\) keeps 0\.90 s .* only 0\.[45]\d s/),
    });
  });
});

// The same three checks, before decoding and between codec calls, whether a file's samples are declared by
// moov's sample tables (stts/stsz) or by fragments (trex's durations, trun).
describe.each([
  { layout: 'sample tables', build: tinyAacFrames, declares: '\\(stts\\)', counted: 'stsz' },
  {
    layout: 'fragments (moof/trun)',
    build: fragmentedAac,
    declares: 'fragments \\(trun\\)',
    counted: 'trun',
  },
])('MP4 length by its $layout', ({ build, declares, counted }) => {
  it('refuses as TOO_LONG, without decoding, a file declaring over the limit (mdhd says 0)', async () => {
    const { outcome, inputs } = await decodeCalls(build(30_000, 1024)); // 697 s at 44.1 kHz
    expect(outcome).toMatchObject({
      code: 'TOO_LONG',
      message: expect.stringMatching(new RegExp(`${declares} declares 696\\.6 s`)),
    });
    expect(inputs).toHaveLength(0);
  });

  it('refuses as TOO_LARGE, without decoding, more samples (codec frames) than the frame budget', async () => {
    const { outcome, inputs } = await decodeCalls(build(MAX_CODEC_FRAMES + 1, 1));
    expect(outcome).toMatchObject({
      code: 'TOO_LARGE',
      message: expect.stringContaining(`${counted}, 'mp4a'`),
    });
    expect(inputs).toHaveLength(0);
  });

  it('stops within one codec call (≤ 1024 frames) past the limit when the declared length understates it', async () => {
    // 40 000 frames of 1024 samples (929 s) declared as 40 000 ticks: the collector's limit runs between
    // codec calls; when the whole file went in one call (moov's tables) decoding stopped at 929 s, and in
    // 16 KiB calls of these 5-byte frames (fragments: 76 s each) at 658 s.
    const { outcome } = await decodeCalls(build(40_000, 1));
    expect(outcome).toMatchObject({ code: 'TOO_LONG' });
    const stoppedAt = Number(/stopped decoding at ([\d.]+) s/.exec((outcome as Error).message)?.[1]);
    // At most 1024 frames per codec call: 1024 × 1024 samples ≈ 23.8 s at 44.1 kHz.
    expect(stoppedAt).toBeGreaterThan(600);
    expect(stoppedAt).toBeLessThan(600 + 24);
  });
});

describe('fragmented MP4 (moof/trun): the same checks as moov’s sample tables', () => {
  it('decodes to the same samples as the unfragmented file', async () => {
    const source = load('generated/aac-44k.m4a');
    const original = await decodeAudio(source);
    const { outcome } = await decodeCalls(fragmented(source, framesOf(source), 1024, 15));
    expect(outcome).toMatchObject({ format: 'mp4' });
    // Empty tables leave the edit list's window open by a tick of the movie timescale (1 ms).
    expect((outcome as typeof original).samples.subarray(0, 44_100)).toEqual(original.samples);
  });

  it('refuses as CORRUPT_AUDIO, without decoding, a trun whose per-sample entries run past its box', async () => {
    // The decoder loops over the declared count, reading past the box.
    const bytes = fragmentedAac(1000, 1024);
    const moof = top(bytes, 'moof');
    const traf = readBoxes(bytes, moof.content, moof.end).find((b) => b.type === 'traf')!;
    const trun = readBoxes(bytes, traf.content, traf.end).find((b) => b.type === 'trun')!;
    // Four fields per sample (duration, size, flags, composition offset): the box holds one.
    view(bytes).setUint32(trun.content, 0x000f01);
    const { outcome, inputs } = await decodeCalls(bytes);
    expect(outcome).toMatchObject({
      code: 'CORRUPT_AUDIO',
      message: expect.stringMatching(/'trun'.*5000 samples|'trun'/),
    });
    expect(inputs).toHaveLength(0);
  });
});
