import { ensureMemory, instantiateKernel, type WasmMemory } from '../wasm.ts';
import { YIN_WASM_BASE64 } from './yin-wasm.ts';

interface YinExports {
  memory: WasmMemory;
  yin(
    x: number,
    energy: number,
    cmnd: number,
    start: number,
    window: number,
    minLag: number,
    maxLag: number,
    threshold: number,
  ): [number, number];
}

/** What the search reads: the decimated signal and its running energy (see prosody.ts, `PitchInput`). */
export interface KernelPitchInput {
  x: Float64Array;
  energy: Float64Array;
}

/**
 * YIN's lag search in WebAssembly (yin.wat). One instance per thread, used synchronously: `load` copies a
 * pitch input into the module's memory (once per input: every frame of a window searches the same one)
 * with room for `lags` d′ values; `search` runs one analysis window and leaves the d′ values it read in
 * `cmnd`. Memory grows to the largest input seen.
 */
export class YinKernel {
  readonly #exports: YinExports;
  #input: KernelPitchInput | undefined;
  #energyAt = 0;
  #cmndAt = 0;
  /** d′(τ) for τ = 0…maxLag as far as the last search read them (a view of the module's memory). */
  cmnd = new Float64Array(0);

  constructor() {
    this.#exports = instantiateKernel<YinExports>(YIN_WASM_BASE64);
  }

  /** Makes `input` the signal of the next searches, with room for `lags` d′ values. */
  load(input: KernelPitchInput, lags: number): void {
    const energyAt = input.x.length * 8;
    const cmndAt = energyAt + input.energy.length * 8;
    const grew = ensureMemory(this.#exports.memory, cmndAt + lags * 8);
    if (!grew && input === this.#input && this.cmnd.length === lags) return;
    const { buffer } = this.#exports.memory;
    new Float64Array(buffer, 0, input.x.length).set(input.x);
    new Float64Array(buffer, energyAt, input.energy.length).set(input.energy);
    this.cmnd = new Float64Array(buffer, cmndAt, lags);
    this.#input = input;
    this.#energyAt = energyAt;
    this.#cmndAt = cmndAt;
  }

  /**
   * The first lag in [minLag, maxLag] whose d′ falls below `threshold`, walked down to the bottom of its
   * dip (−1 if none), and the lowest d′ seen, for the window of `window` samples from `start`.
   */
  search(start: number, window: number, minLag: number, maxLag: number, threshold: number) {
    const [best, lowest] = this.#exports.yin(
      0,
      this.#energyAt,
      this.#cmndAt,
      start,
      window,
      minLag,
      maxLag,
      threshold,
    );
    return { best, lowest };
  }
}

let kernel: YinKernel | undefined;

/** This thread's kernel (instantiated on first use: a small module, compiled synchronously). */
export const yinKernel = (): YinKernel => {
  kernel ??= new YinKernel();
  return kernel;
};
