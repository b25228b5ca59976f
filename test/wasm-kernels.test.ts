import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { kernelModule, kernelPath, WASM_KERNELS } from '../scripts/wasm-kernels.ts';

describe('the hand-written WebAssembly kernels', () => {
  it.each(WASM_KERNELS.map((k) => [k.wat, k]))(
    '%s is committed as its fresh assembly (npm run build:wasm)',
    async (_, kernel) => {
      // Act
      const assembled = await kernelModule(kernel);

      // Assess
      expect(await readFile(kernelPath(kernel.module), 'utf8')).toBe(assembled);
    },
  );
});
