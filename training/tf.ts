import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export { tf };

let ready: Promise<string> | undefined;

/**
 * Selects the WASM backend (4–5× faster than tfjs' pure-JS `cpu` here; tfjs-node cannot install offline).
 * The .wasm binaries are loaded from node_modules, never fetched. Falls back to `cpu` if WASM fails.
 */
export function initTf(preferred: 'wasm' | 'cpu' = 'wasm'): Promise<string> {
  ready ??= (async () => {
    if (preferred === 'wasm') {
      const require = createRequire(import.meta.url);
      const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      setWasmPaths(`${join(dist, '/')}`);
      try {
        if (await tf.setBackend('wasm')) {
          await tf.ready();
          return 'wasm';
        }
      } catch (error) {
        process.stderr.write(`tfjs wasm backend unavailable (${String(error)}); using cpu\n`);
      }
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return 'cpu';
  })();
  return ready;
}
