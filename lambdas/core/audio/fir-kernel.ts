import { ensureMemory, instantiateKernel, type WasmMemory } from '../wasm.ts';
import { FIR_WASM_BASE64 } from './fir-wasm.ts';

/** Output samples one kernel call computes at most: bounds its index and result regions (12 bytes each). */
export const FIR_BATCH = 4096;

interface FirExports {
  memory: WasmMemory;
  dots(coef: number, x: number, pairs: number, out: number, n: number, taps: number): void;
}

/** A filter bank as the kernel reads it: `phases × taps` float32 coefficients, `taps` a multiple of 8. */
export interface KernelBank {
  taps: number;
  coefficients: Float32Array;
}

/**
 * The resampler's dot products in WebAssembly SIMD (fir.wat), ~4–5× faster than the same loop in
 * JavaScript. One instance per thread, used synchronously: `load` puts a filter bank (copied only when it
 * changes) and the input into the module's memory, the caller writes each output's (row, start) into
 * `pairs`, and `run` returns the outputs. Memory grows to the largest bank and input seen (the resampler
 * keeps at most a block of input plus one filter span) and is reused.
 */
export class FirKernel {
  readonly #exports: FirExports;
  #bank: KernelBank | undefined;
  #taps = 0;
  #x = 0;
  #pairsAt = 0;
  #outAt = 0;
  /** (row, start) of each output of the next `run`, as element offsets into the bank and the input. */
  pairs = new Int32Array(0);

  constructor() {
    this.#exports = instantiateKernel<FirExports>(FIR_WASM_BASE64);
  }

  /** Makes `bank` and `input` the kernel's operands; `pairs` is valid until the next `load`. */
  load(bank: KernelBank, input: Float32Array): void {
    const { memory } = this.#exports;
    const bankBytes = bank.coefficients.length * 4;
    const inputBytes = input.length * 4;
    const pairsAt = bankBytes + inputBytes;
    const outAt = pairsAt + FIR_BATCH * 8;
    const end = outAt + FIR_BATCH * 4;
    const grew = ensureMemory(memory, end);
    if (grew || bank !== this.#bank) {
      new Float32Array(memory.buffer, 0, bank.coefficients.length).set(bank.coefficients);
      this.#bank = bank;
    }
    this.#taps = bank.taps;
    this.#x = bankBytes;
    new Float32Array(memory.buffer, this.#x, input.length).set(input);
    if (grew || pairsAt !== this.#pairsAt) this.pairs = new Int32Array(memory.buffer, pairsAt, FIR_BATCH * 2);
    this.#pairsAt = pairsAt;
    this.#outAt = outAt;
  }

  /** The first `count` (≤ FIR_BATCH) outputs described in `pairs`; the view is valid until the next call. */
  run(count: number): Float32Array {
    this.#exports.dots(0, this.#x, this.#pairsAt, this.#outAt, count, this.#taps);
    return new Float32Array(this.#exports.memory.buffer, this.#outAt, count);
  }
}

let kernel: FirKernel | undefined;

/** This thread's kernel (instantiated on first use: a 0.3 KB module, compiled synchronously). */
export const firKernel = (): FirKernel => {
  kernel ??= new FirKernel();
  return kernel;
};
