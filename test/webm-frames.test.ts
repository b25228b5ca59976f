import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { concatenated } from '../lambdas/core/audio/concat.ts';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { readMatroska } from '../lambdas/core/audio/ebml.ts';

const FIXTURE = new URL('./fixtures/generated/opus-48k.webm', import.meta.url);

/** An element with an 8-byte size (every size the walker reads). */
const element = (id: number[], content: Uint8Array | number[]): Uint8Array => {
  const size = [0x01];
  for (let i = 6; i >= 0; i--) size.push(Math.floor(content.length / 2 ** (8 * i)) & 0xff);
  return concatenated([new Uint8Array([...id, ...size]), new Uint8Array(content)], Uint8Array);
};
const text = (value: string) => new TextEncoder().encode(value);

/** Track 1's SimpleBlock: timecode 0, keyframe, the given lacing (0 none, 1 Xiph, 2 fixed) and data. */
const simpleBlock = (lacing: number, data: number[] | Uint8Array): Uint8Array =>
  element([0xa3], [0x81, 0, 0, 0x80 | (lacing << 1), ...data]);

/** A WebM file with one Opus track (the fixture's OpusHead, when given) and `blocks` in one cluster. */
const webm = (blocks: Uint8Array[], opusHead?: Uint8Array): Uint8Array => {
  const track = element(
    [0xae],
    [
      ...element([0xd7], [1]),
      ...element([0x83], [2]),
      ...element([0x86], text('A_OPUS')),
      ...(opusHead ? element([0x63, 0xa2], opusHead) : []),
      ...element([0xe1], element([0x9f], [1])),
    ],
  );
  const segment = concatenated(
    [
      element([0x16, 0x54, 0xae, 0x6b], track),
      element([0x1f, 0x43, 0xb6, 0x75], concatenated(blocks, Uint8Array)),
    ],
    Uint8Array,
  );
  return concatenated(
    [
      element([0x1a, 0x45, 0xdf, 0xa3], element([0x42, 0x82], text('webm'))),
      element([0x18, 0x53, 0x80, 0x67], segment),
    ],
    Uint8Array,
  );
};

/** 256 empty laces in one byte of fixed-size lacing: libopus would invent audio for each. */
const emptyLaces = () => simpleBlock(2, [255]);
const anyNumber = () => Number.POSITIVE_INFINITY;

describe('readMatroska: the frames of a WebM Opus track', () => {
  it('drops empty frames, whatever the lacing, and keeps the others', () => {
    const file = webm([
      emptyLaces(),
      simpleBlock(1, [2, 0, 3, 7, 7, 7, 9]), // Xiph: sizes 0, 3, then the rest (1)
      simpleBlock(0, []), // an unlaced empty block
      simpleBlock(2, [1, 5, 6]), // fixed: two frames of one byte
    ]);

    const frames = readMatroska(file, anyNumber).frames;

    expect(frames.map((frame) => [...frame])).toEqual([[7, 7, 7], [9], [5], [6]]);
  });

  it('refuses more frames than the limit as it walks (TOO_LONG), and keeps none when the limit is 0', () => {
    const oneByteLaces = simpleBlock(2, [255, ...new Array(256).fill(0xf8)]);
    const file = webm([oneByteLaces, oneByteLaces]);

    expect(() => readMatroska(file, () => 300)).toThrow(
      expect.objectContaining({ code: 'TOO_LONG', message: expect.stringMatching(/more than 300 frames/) }),
    );
    expect(readMatroska(file, () => 0).frames).toEqual([]);
  });
});

describe('decodeAudio: WebM Opus frames against the duration limit', () => {
  it('decodes the same audio with empty laces between the frames as without them', async () => {
    // Prepare: the fixture's first 40 real frames, one block each, then with 256 empty laces after each.
    const fixture = readMatroska(readFileSync(FIXTURE), anyNumber);
    const real = fixture.frames.slice(0, 40).map((frame) => simpleBlock(0, frame));
    const head = fixture.track!.codecPrivate;

    // Act
    const plain = await decodeAudio(webm(real, head), { outputRate: 16_000 });
    const padded = await decodeAudio(
      webm(
        real.flatMap((block) => [block, emptyLaces()]),
        head,
      ),
      {
        outputRate: 16_000,
      },
    );

    // Assess: the empty laces add no audio (each would have been a lost packet, concealed).
    expect(padded.samples.length).toBe(plain.samples.length);
  });

  it('refuses a file of only empty laces as empty, not as hours of invented audio', async () => {
    const file = webm(Array.from({ length: 64 }, emptyLaces));

    await expect(decodeAudio(file)).rejects.toMatchObject({ code: 'EMPTY_AUDIO' });
  });

  it('refuses more frames than the duration limit can hold while walking, before decoding', async () => {
    // 512 one-byte frames (≥ 2.5 ms each) against a 1 s limit: at most 400 frames.
    const oneByteLaces = simpleBlock(2, [255, ...new Array(256).fill(0xf8)]);

    const error = await decodeAudio(webm([oneByteLaces, oneByteLaces]), { maxDurationSec: 1 }).catch(
      (e: unknown) => e,
    );

    expect(error).toMatchObject({ code: 'TOO_LONG', message: expect.stringMatching(/more than 400 frames/) });
  });
});
