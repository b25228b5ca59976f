import { describe, expect, it } from 'vitest';
import { type DecodedChunk, decodeChunked } from '../lambdas/core/audio/stream.ts';

/** One second of a constant at 1000 Hz, as a WASM decoder returns it. */
const second = (): DecodedChunk => ({
  channelData: [new Float32Array(1000).fill(0.25)],
  samplesDecoded: 1000,
  sampleRate: 1000,
  errors: [],
});

describe('decodeChunked', () => {
  it('takes lazily decoded chunks one at a time and stops decoding at the duration limit', async () => {
    // Arrange: a decoder that would produce 1000 s from one input chunk, a second per step
    let decoded = 0;
    async function* endless() {
      for (let i = 0; i < 1000; i++) {
        decoded++;
        yield second();
      }
    }

    // Act
    const run = decodeChunked(new Uint8Array(10), {
      container: 'test',
      maxDurationSec: 5,
      chunkBytes: 10,
      decode: () => endless(),
    });

    // Assess: TOO_LONG after the sixth second, with nothing decoded past it
    await expect(run).rejects.toMatchObject({ code: 'TOO_LONG' });
    expect(decoded).toBe(6);
  });

  it('returns a single decoded part as it is and joins several', async () => {
    // Arrange
    const options = { container: 'test', maxDurationSec: 60, chunkBytes: 5 };

    // Act
    const one = await decodeChunked(new Uint8Array(5), { ...options, decode: () => second() });
    const two = await decodeChunked(new Uint8Array(10), { ...options, decode: () => [second()] });

    // Assess
    expect(one.samples.length).toBe(1000);
    expect(two.samples.length).toBe(2000);
    expect(two.samples.every((v) => v === 0.25)).toBe(true);
  });
});
