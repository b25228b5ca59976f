import { ensureMemory, instantiateKernel, type WasmMemory } from '../wasm.ts';
import { FFT_WASM_BASE64 } from './fft-wasm.ts';

interface FftExports {
  memory: WasmMemory;
  spectra(
    signal: number,
    window: number,
    hop: number,
    frames: number,
    size: number,
    width: number,
    table: number,
    bitrev: number,
    data: number,
    out: number,
    power: number,
  ): void;
}

/** Frames one kernel call computes: bounds the module's memory (~180 KB for 512-sample frames). */
export const SPECTRA_BLOCK = 64;

/**
 * fft.js 4.0's tables for a real transform of `size` samples, computed as its constructor does: the
 * twiddles (cos, −sin of π·i/size for even i < 2·size), the radix-4 step's width and its bit reversal.
 */
function fftTables(size: number): { table: Float64Array; width: number; bitrev: Int32Array } {
  const table = new Float64Array(size * 2);
  for (let i = 0; i < table.length; i += 2) {
    const angle = (Math.PI * i) / size;
    table[i] = Math.cos(angle);
    table[i + 1] = -Math.sin(angle);
  }
  let power = 0;
  for (let t = 1; size > t; t <<= 1) power++;
  const width = power % 2 === 0 ? power - 1 : power;
  const bitrev = new Int32Array(1 << width);
  for (let j = 0; j < bitrev.length; j++) {
    for (let shift = 0; shift < width; shift += 2) bitrev[j]! |= ((j >>> shift) & 3) << (width - shift - 2);
  }
  return { table, width, bitrev };
}

/**
 * The feature frames' power spectra in WebAssembly (fft.wat): window, fft.js's real transform and meyda's
 * float32 rounding of the power, two frames per call of the transform (one per float64 lane), bit for bit
 * the values of the JavaScript it replaced. One instance per feature extractor, used synchronously:
 * `spectra` copies up to SPECTRA_BLOCK frames' samples into the module and leaves their power spectra in
 * `power` (frame f's bins from f·size/2).
 */
export class FftKernel {
  readonly #exports: FftExports;
  readonly #size: number;
  readonly #hop: number;
  readonly #width: number;
  readonly #at: { table: number; bitrev: number; window: number; data: number; out: number; power: number };
  readonly #signalAt: number;
  /** Power spectra of the last block (a view of the module's memory), size / 2 float32 bins a frame. */
  readonly power: Float32Array;
  readonly #signal: Float32Array;

  /** `window`: `size` float32 weights (all 1 for a rectangular window); frames start `hop` samples apart. */
  constructor(size: number, hop: number, window: Float32Array) {
    if (size < 2 || (size & (size - 1)) !== 0)
      throw new RangeError(`FFT size must be a power of two, got ${size}`);
    this.#exports = instantiateKernel<FftExports>(FFT_WASM_BASE64);
    this.#size = size;
    this.#hop = hop;
    const { table, width, bitrev } = fftTables(size);
    this.#width = width;
    const bins = size / 2;
    const table_ = 0;
    const bitrev_ = table_ + table.byteLength;
    const window_ = bitrev_ + bitrev.byteLength;
    const data = window_ + size * 4;
    const out = data + size * 16;
    const power = out + size * 32;
    this.#signalAt = power + SPECTRA_BLOCK * bins * 4;
    const signalLength = (SPECTRA_BLOCK - 1) * hop + size;
    ensureMemory(this.#exports.memory, this.#signalAt + signalLength * 4);
    const { buffer } = this.#exports.memory;
    new Float64Array(buffer, table_, table.length).set(table);
    new Int32Array(buffer, bitrev_, bitrev.length).set(bitrev);
    new Float32Array(buffer, window_, size).set(window);
    this.#at = { table: table_, bitrev: bitrev_, window: window_, data, out, power };
    this.power = new Float32Array(buffer, power, SPECTRA_BLOCK * bins);
    this.#signal = new Float32Array(buffer, this.#signalAt, signalLength);
  }

  /** The power spectra of `frames` (≤ SPECTRA_BLOCK) frames from `signal[start]` on, zero-padded past its end. */
  spectra(signal: Float32Array, start: number, frames: number): void {
    if (frames < 1 || frames > SPECTRA_BLOCK)
      throw new RangeError(`1…${SPECTRA_BLOCK} frames a call, got ${frames}`);
    const length = (frames - 1) * this.#hop + this.#size;
    const available = Math.max(0, Math.min(length, signal.length - start));
    this.#signal.set(signal.subarray(start, start + available));
    this.#signal.fill(0, available, length);
    const { table, bitrev, window, data, out, power } = this.#at;
    this.#exports.spectra(
      this.#signalAt,
      window,
      this.#hop,
      frames,
      this.#size,
      this.#width,
      table,
      bitrev,
      data,
      out,
      power,
    );
  }
}
