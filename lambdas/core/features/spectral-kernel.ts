import { ensureMemory, instantiateKernel, type WasmMemory } from '../wasm.ts';
import { SPECTRAL_WASM_BASE64 } from './spectral-wasm.ts';

interface SpectralExports {
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
  dct(
    logMel: number,
    frames: number,
    bands: number,
    half: number,
    coefficients: number,
    matrix: number,
    folded: number,
    out: number,
    stride: number,
  ): void;
}

/** Frames one kernel call computes by default: bounds the module's memory (~250 KB for 512-sample frames). */
export const SPECTRA_BLOCK = 64;

/** The folded DCT-II that turns log-mel bands into MFCCs (extract.ts, `foldedDct`). */
export interface KernelDct {
  bands: number;
  coefficients: number;
  /** Folded length: ⌈bands / 2⌉. */
  half: number;
  /** `coefficients × half` weights, row k for coefficient k. */
  matrix: Float64Array;
  /** Values per output row: the MFCCs of frame f go to `mfcc[f·stride…]`. */
  stride: number;
}

/** What a kernel is planned for. */
export interface SpectralPlan {
  /** Samples per frame: a power of two. */
  size: number;
  /** Samples from one frame's start to the next one's. */
  hop: number;
  /** `size` float32 weights (all 1 for a rectangular window). */
  window: Float32Array;
  /** The DCT, when MFCCs are wanted. */
  dct?: KernelDct;
  /** Frames a call computes at most (SPECTRA_BLOCK when absent). */
  block?: number;
}

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

/** Byte offsets of consecutive regions in the module's memory, each 16-byte aligned. */
function layout<K extends string>(sizes: Record<K, number>): { at: Record<K, number>; end: number } {
  const at = {} as Record<K, number>;
  let end = 0;
  for (const name of Object.keys(sizes) as K[]) {
    at[name] = end;
    end += Math.ceil(sizes[name] / 16) * 16;
  }
  return { at, end };
}

type Region =
  | 'table'
  | 'bitrev'
  | 'window'
  | 'data'
  | 'out'
  | 'power'
  | 'signal'
  | 'matrix'
  | 'folded'
  | 'logMel'
  | 'mfcc';

/** The checks a plan must pass: a wrong stride or matrix would write past the module's regions. */
function checkPlan({ size, window, dct, block }: SpectralPlan): void {
  if (size < 2 || (size & (size - 1)) !== 0)
    throw new RangeError(`FFT size must be a power of two, got ${size}`);
  if (window.length !== size)
    throw new RangeError(`window of ${window.length} weights for ${size}-sample frames`);
  if (block !== undefined && !(Number.isInteger(block) && block >= 1))
    throw new RangeError(`a block holds 1 or more frames, got ${block}`);
  if (!dct) return;
  if (dct.half !== Math.ceil(dct.bands / 2) || dct.matrix.length !== dct.coefficients * dct.half)
    throw new RangeError('DCT matrix does not match its bands and coefficients');
  if (dct.coefficients > dct.stride) throw new RangeError('DCT rows narrower than its coefficients');
}

/**
 * The feature frames' spectral work in WebAssembly (spectral.wat), bit for bit the JavaScript it replaced:
 * window, fft.js's real transform and meyda's float32 rounding of the power (`spectra`), and the folded
 * DCT of the log-mel bands (`dct`), two frames per transform (one per float64 lane). One instance per
 * feature extractor, used synchronously, a block of up to `block` frames at a time: `spectra`
 * leaves the block's power spectra in `power` (frame f's bins from f·size/2); the caller writes the
 * log-mel bands to `logMel` (frame f's from f·bands); `dct` leaves the MFCCs in `mfcc`.
 */
export class SpectralKernel {
  /** Frames one call computes at most. */
  readonly block: number;
  readonly #exports: SpectralExports;
  readonly #size: number;
  readonly #hop: number;
  readonly #width: number;
  readonly #dct: KernelDct | undefined;
  readonly #at: Record<Region, number>;
  readonly #signal: Float32Array;
  /** Power spectra of the block (a view of the module's memory), size / 2 float32 bins a frame. */
  readonly power: Float32Array;
  /** The block's log-mel bands, written by the caller for `dct` (float64, `bands` a frame). */
  readonly logMel: Float64Array;
  /** The block's MFCCs after `dct` (float32, `stride` a frame). */
  readonly mfcc: Float32Array;

  constructor(plan: SpectralPlan) {
    checkPlan(plan);
    const { size, hop, window, dct } = plan;
    this.block = plan.block ?? SPECTRA_BLOCK;
    this.#exports = instantiateKernel<SpectralExports>(SPECTRAL_WASM_BASE64);
    this.#size = size;
    this.#hop = hop;
    this.#dct = dct;
    const { table, width, bitrev } = fftTables(size);
    this.#width = width;
    const signalLength = (this.block - 1) * hop + size;
    const { at, end } = layout<Region>({
      table: table.byteLength,
      bitrev: bitrev.byteLength,
      window: size * 4,
      data: size * 16,
      out: size * 32,
      power: this.block * (size / 2) * 4,
      signal: signalLength * 4,
      matrix: dct ? dct.matrix.byteLength : 0,
      folded: dct ? dct.half * 32 : 0,
      logMel: dct ? this.block * dct.bands * 8 : 0,
      mfcc: dct ? this.block * dct.stride * 4 : 0,
    });
    ensureMemory(this.#exports.memory, end);
    const { buffer } = this.#exports.memory;
    new Float64Array(buffer, at.table, table.length).set(table);
    new Int32Array(buffer, at.bitrev, bitrev.length).set(bitrev);
    new Float32Array(buffer, at.window, size).set(window);
    if (dct) new Float64Array(buffer, at.matrix, dct.matrix.length).set(dct.matrix);
    this.#at = at;
    this.#signal = new Float32Array(buffer, at.signal, signalLength);
    this.power = new Float32Array(buffer, at.power, this.block * (size / 2));
    this.logMel = new Float64Array(buffer, at.logMel, dct ? this.block * dct.bands : 0);
    this.mfcc = new Float32Array(buffer, at.mfcc, dct ? this.block * dct.stride : 0);
  }

  /** A call covers 1…`block` frames: the module's regions hold no more. */
  #checkFrames(frames: number): void {
    if (frames < 1 || frames > this.block)
      throw new RangeError(`1…${this.block} frames a call, got ${frames}`);
  }

  /** The power spectra of `frames` (≤ `block`) frames from `signal[start]` on, zero-padded past its end. */
  spectra(signal: Float32Array, start: number, frames: number): void {
    this.#checkFrames(frames);
    const length = (frames - 1) * this.#hop + this.#size;
    const available = Math.max(0, Math.min(length, signal.length - start));
    this.#signal.set(signal.subarray(start, start + available));
    this.#signal.fill(0, available, length);
    const at = this.#at;
    this.#exports.spectra(
      at.signal,
      at.window,
      this.#hop,
      frames,
      this.#size,
      this.#width,
      at.table,
      at.bitrev,
      at.data,
      at.out,
      at.power,
    );
  }

  /** The MFCCs of the block's first `frames` frames of `logMel` into `mfcc`. */
  dct(frames: number): void {
    const dct = this.#dct;
    if (!dct) throw new Error('this kernel was planned without a DCT');
    this.#checkFrames(frames);
    const at = this.#at;
    this.#exports.dct(
      at.logMel,
      frames,
      dct.bands,
      dct.half,
      dct.coefficients,
      at.matrix,
      at.folded,
      at.mfcc,
      dct.stride,
    );
  }
}
