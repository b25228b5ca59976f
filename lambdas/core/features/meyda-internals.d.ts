// meyda ships no typings for its internal CJS modules; these are the two helpers we reuse so our
// filter bank and window are meyda's own objects, not re-derivations.
declare module 'meyda/dist/node/utilities.js' {
  export function createMelFilterBank(numFilters: number, sampleRate: number, bufferSize: number): number[][];
}
declare module 'meyda/dist/node/windowing.js' {
  export function hanning(size: number): Float32Array;
  export function hamming(size: number): Float32Array;
  export function blackman(size: number): Float32Array;
  export function sine(size: number): Float32Array;
}
