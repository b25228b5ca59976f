import { describe, expect, it } from 'vitest';
import { concatenated } from '../lambdas/core/audio/concat.ts';
import { oggStreams } from '../lambdas/core/audio/ogg-packets.ts';
import { AudioError } from '../lambdas/core/errors.ts';

/** One Ogg page (RFC 3533 §6; CRC left 0: the reader does not check it) holding `segments` as laced. */
function page(
  serial: number,
  flags: number,
  granule: number,
  lacing: number[],
  body: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(27 + lacing.length + body.length);
  out.set([0x4f, 0x67, 0x67, 0x53, 0, flags]);
  const view = new DataView(out.buffer);
  if (granule < 0) view.setBigInt64(6, -1n, true);
  else view.setBigUint64(6, BigInt(granule), true);
  view.setUint32(14, serial, true);
  out[26] = lacing.length;
  out.set(lacing, 27);
  out.set(body, 27 + lacing.length);
  return out;
}

/** The lacing values of one whole packet of `size` bytes. */
const lacingOf = (size: number): number[] => [...Array(Math.floor(size / 255)).fill(255), size % 255];
const packet = (size: number, fill: number) => new Uint8Array(size).fill(fill);
const concat = (...parts: Uint8Array[]) => concatenated(parts, Uint8Array);

describe('oggStreams (our Ogg page reader)', () => {
  it('joins a packet that spans pages, and ends a stream at its end-of-stream page', () => {
    // Prepare: a 600-byte packet split 510 / 90 over two pages, then a 3-byte packet on the last page.
    const big = packet(600, 7);
    const file = concat(
      page(1, 2, 0, lacingOf(5), packet(5, 1)),
      page(1, 0, -1, [255, 255], big.subarray(0, 510)),
      page(1, 1 | 4, 960, [90, 3], concat(big.subarray(510), packet(3, 9))),
    );

    // Act
    const streams = oggStreams(file, 1000, 'Ogg test');

    // Assess
    expect(streams).toHaveLength(1);
    expect(streams[0]!.packets.map((p) => p.length)).toEqual([5, 600, 3]);
    expect(streams[0]!.packets[1]).toEqual(big);
    expect(streams[0]!).toMatchObject({ serial: 1, lastGranule: 960, ended: true });
  });

  it('reads chained streams in order, skips a multiplexed one and garbage between pages', () => {
    const file = concat(
      page(1, 2, 0, [4], packet(4, 1)),
      page(2, 2, 0, [4], packet(4, 2)), // another stream beginning inside the first: not followed
      page(1, 0, 480, [2], packet(2, 1)),
      new Uint8Array([1, 2, 3, 0x4f, 0x67]), // garbage, with half a capture pattern
      page(1, 4, 960, [3], packet(3, 1)),
      page(3, 2, 0, [6], packet(6, 3)), // chained after the first ended
      page(3, 4, 480, [1], packet(1, 3)),
    );

    const streams = oggStreams(file, 1000, 'Ogg test');

    expect(streams.map((s) => s.serial)).toEqual([1, 3]);
    expect(streams[0]!.packets.map((p) => p.length)).toEqual([4, 2, 3]);
    expect(streams[1]!.packets.map((p) => p.length)).toEqual([6, 1]);
    expect(streams.map((s) => s.lastGranule)).toEqual([960, 480]);
  });

  it('drops a continuation whose start was lost, and a packet cut off by the end of the file', () => {
    const file = concat(
      page(1, 2, 0, [4], packet(4, 1)),
      page(1, 1, 480, [100, 5], concat(packet(100, 8), packet(5, 2))), // continues nothing we read
      page(1, 0, -1, [255], packet(255, 4)), // a packet left open at the end
    );

    const streams = oggStreams(file, 1000, 'Ogg test');

    expect(streams[0]!.packets.map((p) => p.length)).toEqual([4, 5]);
    expect(streams[0]!).toMatchObject({ lastGranule: 480, ended: false });
  });

  it('drops empty packets, and reads a page header cut off by the end as the end', () => {
    const file = concat(
      page(1, 2, 0, [4], packet(4, 1)),
      page(1, 4, 960, [0, 0, 3, 0], packet(3, 2)), // a decoder would take each empty one for a loss
      new Uint8Array([0x4f, 0x67, 0x67, 0x53, 0, 2, 0, 0]), // a capture pattern and half a header
    );

    const streams = oggStreams(file, 1000, 'Ogg test');

    expect(streams[0]!.packets.map((p) => p.length)).toEqual([4, 3]);
  });

  it('stops with TOO_LONG once the packets exceed the budget, before listing the rest', () => {
    const pages = Array.from({ length: 50 }, (_, i) =>
      page(1, i === 0 ? 2 : 0, i * 960, Array(100).fill(1), packet(100, 5)),
    );

    const read = () => oggStreams(concat(...pages), 1000, 'Ogg test');

    expect(read).toThrow(AudioError);
    expect(read).toThrow(/Ogg test holds more than 1000 packets/);
  });
});
