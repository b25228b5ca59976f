/**
 * Instantiating the hand-written WebAssembly kernels (audio/fir.wat, features/spectral.wat, features/yin.wat;
 * built by `npm run build:wasm`). The project's TypeScript lib (ES2023, no DOM) has no WebAssembly API
 * types: what the kernels use of it is declared here (docs/dependencies.md).
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
};

const PAGE = 65536;

/** A kernel's exports from its base64 bytes, compiled synchronously (each is under 2 KB). */
export function instantiateKernel<Exports>(base64: string): Exports {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as Exports;
}

/** Grows `memory` to at least `bytes`; true when it grew (views on the old buffer are then detached). */
export function ensureMemory(memory: WasmMemory, bytes: number): boolean {
  const missing = bytes - memory.buffer.byteLength;
  if (missing <= 0) return false;
  memory.grow(Math.ceil(missing / PAGE));
  return true;
}
