/**
 * Writes the generated modules of the hand-written WebAssembly kernels (scripts/wasm-kernels.ts) from
 * their .wat sources. `npm run build:wasm` after changing a .wat; test/wasm-kernels.test.ts assembles
 * them again and fails if the committed bytes differ, so a binary can never drift from its source.
 */
import { writeFile } from 'node:fs/promises';
import { kernelModule, kernelPath, WASM_KERNELS } from './wasm-kernels.ts';

for (const kernel of WASM_KERNELS) {
  await writeFile(kernelPath(kernel.module), await kernelModule(kernel));
  console.log(`wrote ${kernel.module}`);
}
