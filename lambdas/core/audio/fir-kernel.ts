import { ensureMemory, instantiateKernel, type WasmMemory } from '../wasm.ts';
import { FIR_WASM_BASE64 } from './fir-wasm.ts';

/** Output samples one kernel call computes at most: bounds its result region. */
export const FIR_BATCH = 4096;

/** A filter bank as the kernel reads it: `phases × taps` float32 coefficients, `taps` a multiple of 4. */
export interface KernelBank {
  phases: number;
  taps: number;
  firstOffset: number;
  coefficients: Float32Array;
}

/**
 * Where the next output sits and what input is held: position `base` + `remainder`/`to` in input
 * samples, advancing by `baseStep` + `remainderStep`/`to` per output; input [0, received) is held from
 * absolute index `keptFrom` on.
 */
export interface RenderPosition {
  base: number;
  remainder: number;
  to: number;
  baseStep: number;
  remainderStep: number;
  keptFrom: number;
  received: number;
}

interface FirExports {
  memory: WasmMemory;
  render(
    coef: number,
    x: number,
    out: number,
    limit: number,
    taps: number,
    phases: number,
    firstOffset: number,
    keptFrom: number,
    received: number,
    to: number,
    baseStep: number,
    remainderStep: number,
    phaseScale: number,
    base: number,
    remainder: number,
  ): [number, number, number];
}

/**
 * The resampler's inner loop in WebAssembly SIMD (fir.wat), ~4–5× faster than the same loop in
 * JavaScript: it steps the output position and computes each output's dot product. One instance per
 * thread, used synchronously: `load` puts a filter bank (copied only when it changes) and the input into
 * the module's memory, `render` computes the outputs whose taps lie inside the input. Memory grows to
 * the largest bank and input seen (the resampler keeps at most a block of input plus one filter span).
 */
export class FirKernel {
  readonly #exports: FirExports;
  #bank: KernelBank | undefined;
  #x = 0;
  #outAt = 0;

  constructor() {
    this.#exports = instantiateKernel<FirExports>(FIR_WASM_BASE64);
  }

  /** Makes `bank` and `input` the operands of the next `render` calls. */
  load(bank: KernelBank, input: Float32Array): void {
    const { memory } = this.#exports;
    const bankBytes = bank.coefficients.length * 4;
    const outAt = bankBytes + input.length * 4;
    const grew = ensureMemory(memory, outAt + FIR_BATCH * 4);
    if (grew || bank !== this.#bank) {
      new Float32Array(memory.buffer, 0, bank.coefficients.length).set(bank.coefficients);
      this.#bank = bank;
    }
    this.#x = bankBytes;
    this.#outAt = outAt;
    new Float32Array(memory.buffer, bankBytes, input.length).set(input);
  }

  /**
   * Up to `limit` (≤ FIR_BATCH) outputs from `at` on, stopping before the first whose taps reach past
   * either end of the input: the outputs (a view valid until the next call) and the position after them.
   */
  render(at: RenderPosition, limit: number): { values: Float32Array; base: number; remainder: number } {
    const bank = this.#bank!;
    const [count, base, remainder] = this.#exports.render(
      0,
      this.#x,
      this.#outAt,
      Math.min(limit, FIR_BATCH),
      bank.taps,
      bank.phases,
      bank.firstOffset,
      at.keptFrom,
      at.received,
      at.to,
      at.baseStep,
      at.remainderStep,
      bank.phases / at.to,
      at.base,
      at.remainder,
    );
    return { values: new Float32Array(this.#exports.memory.buffer, this.#outAt, count), base, remainder };
  }
}

let kernel: FirKernel | undefined;

/** This thread's kernel (instantiated on first use: a 0.5 KB module, compiled synchronously). */
export const firKernel = (): FirKernel => {
  kernel ??= new FirKernel();
  return kernel;
};
