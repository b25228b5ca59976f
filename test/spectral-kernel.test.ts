import FFT from 'fft.js';
import { hamming, hanning } from 'meyda/dist/node/windowing.js';
import { describe, expect, it } from 'vitest';
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

describe('the power-spectrum kernel (spectral.wat)', () => {
  // 256 and 1024 take fft.js's radix-4 first step, 512 and 2048 its radix-2 one.
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
    const kernel = new SpectralKernel(size, hop, window);
    const random = seeded(size);
    const signal = Float32Array.from({ length: 40 * hop + size / 3 }, random);
    const frames = 41; // odd: the last frame rides in both lanes; it also runs past the signal's end

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

  it.each([
    [40, 40, 43],
    [39, 13, 13],
  ])(
    'gives the folded DCT of the JavaScript it replaced, bit for bit: %i bands → %i MFCCs, rows of %i',
    (bands, coefficients, stride) => {
      // Arrange: extract.ts's folded DCT-II matrix and random log-mel rows (float32 values, as the bands are)
      const half = Math.ceil(bands / 2);
      const matrix = new Float64Array(coefficients * half);
      for (let k = 0; k < coefficients; k++) {
        for (let n = 0; n < half; n++) {
          const middle = bands % 2 === 1 && n === half - 1;
          matrix[k * half + n] = middle && k % 2 === 1 ? 0 : 2 * Math.cos((Math.PI / bands) * (n + 0.5) * k);
        }
      }
      const kernel = new SpectralKernel(512, 320, new Float32Array(512).fill(1), {
        bands,
        coefficients,
        half,
        matrix,
        stride,
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

  it('refuses a size fft.js cannot transform and a block larger than its memory', () => {
    expect(() => new SpectralKernel(500, 100, new Float32Array(500))).toThrow(RangeError);
    const kernel = new SpectralKernel(512, 320, new Float32Array(512).fill(1));
    expect(() => kernel.spectra(new Float32Array(100_000), 0, SPECTRA_BLOCK + 1)).toThrow(RangeError);
  });
});
