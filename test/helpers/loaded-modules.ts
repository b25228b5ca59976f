/**
 * Run as `node --import tsx test/helpers/loaded-modules.ts <wav> <m4a> <webm>` (a fresh process, so that
 * nothing was loaded before): records every module the process loads, through a module hook registered
 * before the core is imported, and prints as JSON lines the modules loaded by a full WAV prediction
 * (predictor created, one clip predicted), then those loaded once an M4A and a WebM have been decoded.
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

const [wav, m4a, webm] = process.argv.slice(2) as [string, string, string];
// Imported only now, so the hook sees the core and everything it pulls in.
const { createPredictor } = await import('../../lambdas/core/predict.ts');
const { decodeAudio } = await import('../../lambdas/core/audio/decode.ts');
const predictor = await createPredictor();
const result = await predictor.predict(readFileSync(wav));
console.log(JSON.stringify({ after: 'wav', emotion: result.emotion, modules: [...loaded] }));
await decodeAudio(readFileSync(m4a));
await decodeAudio(readFileSync(webm));
console.log(JSON.stringify({ after: 'm4a+webm', modules: [...loaded] }));
await predictor.release();
