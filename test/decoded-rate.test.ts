import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';

const vorbisMkv = new Uint8Array(
  readFileSync(join(import.meta.dirname, 'fixtures/generated/vorbis-16k.mkv')),
);

/** The Matroska Vorbis clip with its Vorbis identification header's rate set to `rate` (SamplingFrequency stays 16000). */
const vorbisAtRate = (rate: number): Uint8Array => {
  const file = vorbisMkv.slice();
  const at = Buffer.from(file).indexOf(Buffer.from('\x01vorbis', 'latin1'));
  new DataView(file.buffer).setUint32(at + 12, rate, true); // after packet type, "vorbis", version, channels
  return file;
};

/** `count` silent MPEG-1 layer III mono frames at 64 kbps: 44.1 kHz (208 bytes each) or 32 kHz (288). */
const silentMp3 = (rate: 44100 | 32000, count: number): Uint8Array => {
  const [rateBits, length] = rate === 44100 ? [0, 208] : [2, 288];
  const out = new Uint8Array(length * count);
  for (let i = 0; i < count; i++) out.set([0xff, 0xfb, 0x50 | (rateBits << 2), 0xc0], i * length);
  return out;
};

describe('the sample rate a decoder reports', () => {
  it.each([1, 999, 384_001, 400_000_001])(
    'is range-checked like a header: a Vorbis header at %i Hz inside a 16 kHz WebM is CORRUPT_AUDIO',
    async (rate) => {
      // Arrange: the container claims 16 kHz, the codec's own header another rate (libvorbis accepts any ≥ 1)
      const file = vorbisAtRate(rate);

      // Act
      const decoding = decodeAudio(file, { outputRate: 16000 });

      // Assess: refused on the decoder's rate, not TOO_LONG (1 Hz) or a resampler built for 400 MHz
      await expect(decoding).rejects.toMatchObject({
        code: 'CORRUPT_AUDIO',
        message: expect.stringContaining(`sample rate of ${rate} Hz`),
      });
    },
  );

  it('still decodes the clip when both rates agree', async () => {
    const decoded = await decodeAudio(vorbisAtRate(16000), { outputRate: 16000 });
    expect(decoded.sourceSampleRate).toBe(16000);
  });

  it('may not change mid-stream: an MP3 of 44.1 kHz frames, then 32 kHz ones, is refused', async () => {
    // Arrange: more than one 16 KiB decode call of each rate, as two MP3s joined by `cat` would be
    const first = silentMp3(44100, 100);
    const joined = new Uint8Array([...first, ...silentMp3(32000, 100)]);

    // Act
    const decoding = decodeAudio(joined, { outputRate: 16000 });

    // Assess: the first part alone decodes; the joined file is refused, not resampled at one rate
    expect((await decodeAudio(first, { outputRate: 16000 })).sourceSampleRate).toBe(44100);
    await expect(decoding).rejects.toMatchObject({
      code: 'UNSUPPORTED_FORMAT',
      message: expect.stringContaining('changes its sample rate from 44100 to 32000 Hz'),
    });
  });
});
