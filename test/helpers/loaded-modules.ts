/**
 * Run as `node --import tsx test/helpers/loaded-modules.ts <wav> <other audio files…>` (a fresh process,
 * so that nothing was loaded before): records every module the process loads, through a module hook
 * registered before the core is imported, and prints as JSON lines the modules loaded by a full WAV
 * prediction (predictor created, one clip predicted), then those loaded once the other files have been
 * decoded.
 */
import { readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const loaded: string[] = [];
registerHooks({
  load(url, context, next) {
    loaded.push(url);
    return next(url, context);
  },
});

const [wav, ...others] = process.argv.slice(2) as [string, ...string[]];
// Imported only now, so the hook sees the core and everything it pulls in.
const { createPredictor } = await import('../../lambdas/core/predict.ts');
const { decodeAudio } = await import('../../lambdas/core/audio/decode.ts');
const { DEFAULT_MODEL_DIR } = await import('../../lib/paths.ts');
const predictor = await createPredictor({ modelDir: DEFAULT_MODEL_DIR });
const result = await predictor.predict(readFileSync(wav));
console.log(JSON.stringify({ after: 'wav', emotion: result.emotion, modules: [...loaded] }));
for (const file of others) await decodeAudio(readFileSync(file));
console.log(JSON.stringify({ after: 'others', modules: [...loaded] }));
await predictor.release();
