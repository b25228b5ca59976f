/**
 * The WASM decoder packages, imported on first use: a WAV upload never loads them, and a compressed
 * upload loads only its own codec's. The inference Lambda ships them beside its bundle, not inside it
 * (`INFERENCE_NODE_MODULES`, lib/lambda-bundling.ts): inside, their code was parsed at every cold start
 * (the MP4/WebM decoders ~2.5 MB, the others ~300 KB; docs/dependencies.md).
 */
const once = <T>(load: () => Promise<T>): (() => Promise<T>) => {
  let loaded: Promise<T> | undefined;
  return () => (loaded ??= load());
};

export const flacPackage = once(() => import('@wasm-audio-decoders/flac'));
export const mpegPackage = once(() => import('mpg123-decoder'));
export const vorbisPackage = once(() => import('@wasm-audio-decoders/ogg-vorbis'));
export const opusPackage = once(() => import('opus-decoder'));
export const mp4Package = once(() => import('@audio/decode-mp4'));
export const webmPackage = once(() => import('@audio/decode-webm'));
