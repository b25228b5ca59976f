import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Field, layoutOf, readField, repairOggCrcs, writeField } from '../bin/fuzz-layout.ts';
import { extremeValues, MUTATION_KINDS, mutate, randomFor } from '../bin/fuzz-mutate.ts';
import { loadSeedFiles, makeCase } from '../bin/fuzz-run.ts';
import type { AudioFormat } from '../lambdas/core/audio/formats.ts';
import { FIXTURES_DIR } from './helpers/fixtures.ts';

const fixture = (path: string) => new Uint8Array(readFileSync(`${FIXTURES_DIR}${path}`));
const fieldValue = (format: AudioFormat, path: string, name: string): number => {
  const bytes = fixture(path);
  const field = layoutOf(format, bytes).fields.find((f) => f.name === name);
  expect(field, `${path}: ${name}`).toBeDefined();
  return readField(bytes, field!);
};

describe('fuzzer layouts: header fields found where each format keeps them', () => {
  it.each([
    ['wav', 'generated/pcm16.wav', 'fmt.sampleRate', 24414],
    ['wav', 'generated/6ch-16k.wav', 'fmt.channels', 6],
    ['aiff', 'generated/pcm16.aiff', 'COMM.frames', 24414],
    ['flac', 'tess/OAF_bath_angry.flac', 'STREAMINFO.sampleRate', 24414],
    ['flac', 'tess/OAF_bath_angry.flac', 'STREAMINFO.totalSamples', 39230],
    ['flac', 'tess/OAF_bath_angry.flac', 'STREAMINFO.channels', 0], // stored as channels − 1
    ['mp3', 'generated/mono-44k.mp3', 'frame0.rateIndex', 0], // 44.1 kHz in MPEG-1
    ['mp3', 'generated/mono-44k.mp3', 'frame0.channelMode', 3], // mono
    ['ogg-vorbis', 'generated/vorbis-16k.ogg', 'vorbis.sampleRate', 16000],
    ['ogg-opus', 'generated/opus-48k.opus', 'OpusHead.channels', 1],
    ['mp4', 'generated/aac-44k.m4a', 'mdhd.timescale', 44100],
    ['mp4', 'generated/aac-44k.m4a', 'stsd.entry.sampleRate', 44100 * 65536], // 16.16 fixed point
    ['webm', 'generated/opus-48k.webm', 'Channels', 1],
  ] as const)('%s %s: %s = %d', (format, path, name, expected) => {
    expect(fieldValue(format, path, name)).toBe(expected);
  });

  it('finds the chunks each format is made of', () => {
    const names = (format: AudioFormat, path: string) =>
      new Set(layoutOf(format, fixture(path)).chunks.map((c) => c.name));
    expect(names('wav', 'generated/pcm16.wav')).toEqual(new Set(['fmt ', 'data']));
    expect(names('flac', 'generated/pcm16.flac')).toContain('frame');
    expect(names('mp4', 'generated/aac-44k.m4a')).toContain('stsz');
    expect(names('ogg-opus', 'generated/opus-48k.opus')).toEqual(new Set(['page']));
    expect(names('webm', 'generated/opus-48k.webm')).toContain('0x1f43b675'); // Cluster
  });

  it('writes a bit field without touching its neighbours, and a little-endian field byte by byte', () => {
    const bytes = new Uint8Array([0xab, 0xcd, 0xef]);
    const field: Field = { name: 'x', kind: 'rate', offset: 0, bitOffset: 4, bits: 12, littleEndian: false };
    expect(readField(bytes, field)).toBe(0xbcd);
    writeField(bytes, field, 0x123);
    expect([...bytes]).toEqual([0xa1, 0x23, 0xef]);
    writeField(bytes, { ...field, offset: 1, bitOffset: 0, bits: 16, littleEndian: true }, 0xbeef);
    expect([...bytes]).toEqual([0xa1, 0xef, 0xbe]);
  });

  it('repairs Ogg page checksums idempotently (a repaired file is left as it is)', () => {
    const bytes = fixture('generated/opus-48k.opus');
    const repaired = bytes.slice();
    repairOggCrcs(repaired);
    expect(Buffer.from(repaired).equals(Buffer.from(bytes))).toBe(true);
    repaired[200]! ^= 1;
    repairOggCrcs(repaired);
    expect(Buffer.from(repaired).subarray(0, 100).equals(Buffer.from(bytes).subarray(0, 100))).toBe(false);
  });
});

describe('fuzzer mutations', () => {
  const seeds = loadSeedFiles();

  it('are reproducible from the seed and the case index, and never change the fixture', () => {
    const same = (x: Uint8Array, y: Uint8Array) => Buffer.from(x).equals(Buffer.from(y));
    const before = seeds.map((s) => s.bytes.slice());
    const a = makeCase(seeds, 42, 7);
    const b = makeCase(seeds, 42, 7);
    expect({ ...b.mutant, bytes: undefined }).toEqual({ ...a.mutant, bytes: undefined });
    expect(same(b.mutant.bytes, a.mutant.bytes)).toBe(true);
    expect(same(makeCase(seeds, 43, 7).mutant.bytes, a.mutant.bytes)).toBe(false);
    expect(seeds.filter((s, i) => !same(s.bytes, before[i]!))).toEqual([]);
  });

  it('draw every format and every kind within a few hundred cases', () => {
    const cases = Array.from({ length: 400 }, (_, i) => makeCase(seeds, 1, i));
    expect(new Set(cases.map((c) => c.file.format))).toEqual(
      new Set(['wav', 'aiff', 'flac', 'mp3', 'ogg-vorbis', 'ogg-opus', 'mp4', 'webm']),
    );
    const kinds = new Set(cases.map((c) => c.mutant.kind.replace(/:.*/, '')));
    expect(kinds).toEqual(new Set(MUTATION_KINDS));
  });

  it('do what their kind says', () => {
    const source = seeds.find((s) => s.path === 'generated/pcm16.flac')!;
    for (let i = 0; i < 40; i++) {
      const random = randomFor(5, i);
      const cut = mutate(source.bytes, source.layout, random, 'truncate');
      expect(cut.bytes.length).toBeLessThan(source.bytes.length);
      const removed = mutate(source.bytes, source.layout, random, 'chunk-remove');
      expect(removed.bytes.length).toBeLessThan(source.bytes.length);
      const copied = mutate(source.bytes, source.layout, random, 'chunk-duplicate');
      expect(copied.bytes.length).toBeGreaterThan(source.bytes.length);
      const field = mutate(source.bytes, source.layout, random, 'field');
      expect(field.kind).toMatch(/^field:/);
      expect(field.bytes.length).toBe(source.bytes.length);
      expect(field.detail).toMatch(/ → /);
    }
  });

  it('set fields to bounds, off-by-ones and the limits of their kind', () => {
    const rate: Field = { name: 'r', kind: 'rate', offset: 0, bitOffset: 0, bits: 20, littleEndian: false };
    const values = extremeValues(rate, 24414, 1000);
    expect(values).toEqual(
      expect.arrayContaining([0, 1, 2 ** 20 - 1, 2 ** 19, 24415, 24413, 384_000, 384_001]),
    );
    expect(values.every((v) => v >= 0 && v < 2 ** 20)).toBe(true);
  });
});
