import FFT from 'fft.js';
import { hamming, hanning } from 'meyda/dist/node/windowing.js';
import { describe, expect, it } from 'vitest';
import { foldedDct } from '../lambdas/core/features/extract.ts';
import { SPECTRA_BLOCK, SpectralKernel } from '../lambdas/core/features/spectral-kernel.ts';

const seeded = (seed: number) => () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32 - 0.5;
};

/** The JavaScript the kernel replaced: window, fft.js's real transform, meyda's float32 power. */
function referencePower(
  signal: Float32Array,
  start: number,
  size: number,
  window: Float32Array,
): Float32Array {
  const frame = new Float64Array(size);
  const available = Math.max(0, Math.min(size, signal.length - start));
  for (let i = 0; i < available; i++) frame[i] = signal[start + i]! * window[i]!;
  const spectrum = new Float64Array(size * 2);
  new FFT(size).realTransform(spectrum, frame);
  const power = new Float32Array(size / 2);
  for (let k = 0; k < size / 2; k++) {
    const re = spectrum[2 * k]!;
    const im = spectrum[2 * k + 1]!;
    const amplitude = Math.fround(Math.sqrt(re * re + im * im));
    power[k] = amplitude * amplitude;
  }
  return power;
}

describe('the spectral kernel (spectral.wat): power spectra and DCT', () => {
  // 256 and 1024 take fft.js's radix-4 first step, 512 and 2048 its radix-2 one.
  // 129 frames: three blocks, the last a single frame; every signal ends inside its last frames.
  it.each([
    [256, 100, 'hanning'],
    [512, 320, 'hanning'],
    [1024, 512, 'hamming'],
    [2048, 512, 'rect'],
  ] as const)('gives fft.js’s power bit for bit: %i-sample frames, hop %i, %s window', (size, hop, name) => {
    // Arrange
    const window =
      name === 'rect'
        ? new Float32Array(size).fill(1)
        : Float32Array.from((name === 'hanning' ? hanning : hamming)(size));
    const kernel = new SpectralKernel({ size, hop, window });
    const random = seeded(size);
    const signal = Float32Array.from({ length: 128 * hop + size / 3 }, random);
    const frames = 129; // odd: the last frame rides in both lanes; it also runs past the signal's end

    // Act and assess
    for (let first = 0; first < frames; first += SPECTRA_BLOCK) {
      const count = Math.min(SPECTRA_BLOCK, frames - first);
      kernel.spectra(signal, first * hop, count);
      for (let f = 0; f < count; f++) {
        const expected = referencePower(signal, (first + f) * hop, size, window);
        const actual = kernel.power.subarray(f * (size / 2), (f + 1) * (size / 2));
        expect(Array.from(actual)).toEqual(Array.from(expected));
      }
    }
  });

  it('zero-pads a signal shorter than one frame, as the JavaScript did', () => {
    // Arrange
    const window = Float32Array.from(hanning(512));
    const kernel = new SpectralKernel({ size: 512, hop: 320, window });
    const signal = Float32Array.from({ length: 300 }, seeded(3));

    // Act
    kernel.spectra(signal, 0, 1);

    // Assess
    expect(Array.from(kernel.power.subarray(0, 256))).toEqual(
      Array.from(referencePower(signal, 0, 512, window)),
    );
  });

  it.each([
    [40, 40, 43],
    [39, 13, 13],
  ])(
    'gives the folded DCT of the JavaScript it replaced, bit for bit: %i bands → %i MFCCs, rows of %i',
    (bands, coefficients, stride) => {
      // Arrange: extract.ts's folded DCT-II matrix and random log-mel rows (float32 values, as the bands are)
      const { half, matrix } = foldedDct(bands, coefficients);
      const kernel = new SpectralKernel({
        size: 512,
        hop: 320,
        window: new Float32Array(512).fill(1),
        dct: { bands, coefficients, half, matrix, stride },
      });
      const random = seeded(bands);
      const frames = 33;
      for (let i = 0; i < frames * bands; i++) kernel.logMel[i] = Math.fround(Math.abs(random()) * 30);

      // Act
      kernel.dct(frames);

      // Assess: the JavaScript loop (extract.ts before the kernel), frame by frame
      for (let f = 0; f < frames; f++) {
        const x = kernel.logMel.subarray(f * bands, (f + 1) * bands);
        const folded = new Float64Array(2 * half);
        for (let n = 0; n < half; n++) {
          const mirror = bands - 1 - n;
          folded[n] = mirror !== n ? x[n]! + x[mirror]! : x[n]!;
          folded[half + n] = mirror !== n ? x[n]! - x[mirror]! : x[n]!;
        }
        for (let k = 0; k < coefficients; k++) {
          let acc = 0;
          for (let n = 0; n < half; n++) acc += folded[(k & 1) * half + n]! * matrix[k * half + n]!;
          expect(kernel.mfcc[f * stride + k]).toBe(Math.fround(acc));
        }
      }
    },
  );

  it('refuses a size fft.js cannot transform, a mismatched window or DCT, and a block larger than its memory', () => {
    expect(() => new SpectralKernel({ size: 500, hop: 100, window: new Float32Array(500) })).toThrow(
      RangeError,
    );
    expect(() => new SpectralKernel({ size: 512, hop: 100, window: new Float32Array(500) })).toThrow(
      RangeError,
    );
    const { half, matrix } = foldedDct(40, 40);
    const narrow = { bands: 40, coefficients: 40, half, matrix, stride: 13 };
    expect(
      () => new SpectralKernel({ size: 512, hop: 320, window: new Float32Array(512), dct: narrow }),
    ).toThrow(RangeError);
    const kernel = new SpectralKernel({ size: 512, hop: 320, window: new Float32Array(512).fill(1) });
    expect(() => kernel.spectra(new Float32Array(100_000), 0, SPECTRA_BLOCK + 1)).toThrow(RangeError);
    const single = new SpectralKernel({ size: 512, hop: 320, window: new Float32Array(512), block: 1 });
    expect(() => single.spectra(new Float32Array(100_000), 0, 2)).toThrow(RangeError);
    expect(
      () => new SpectralKernel({ size: 512, hop: 320, window: new Float32Array(512), block: 0 }),
    ).toThrow(RangeError);
  });
});
