/**
 * Writes lambdas/core/audio/fir-wasm.ts, the resampler's SIMD kernel as bytes, from fir.wat.
 * `npm run build:wasm` after changing the .wat; test/fir-kernel.test.ts assembles it again and fails if
 * the committed bytes differ, so the binary can never drift from its source.
 */
import { writeFile } from 'node:fs/promises';
import { FIR_MODULE_FILE, firKernelModule } from './wasm-kernels.ts';

await writeFile(FIR_MODULE_FILE, await firKernelModule());
console.log(`wrote ${FIR_MODULE_FILE}`);
