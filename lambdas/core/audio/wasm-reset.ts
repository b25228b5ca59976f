/**
 * A fresh codec state inside an already instantiated WASM decoder.
 *
 * mpg123-decoder's `reset()` frees the whole WASM instance and instantiates a new one (its own linear
 * memory, megabytes, for every file): ~1–2 ms per file plus the garbage collections those memories
 * cause. The codec's state lives in one handle made by the module's `*_create` export, so destroying and
 * re-creating that handle in the same instance gives exactly what a new decoder gives (tested: the same
 * samples after other files, a corrupt one included). This reaches into the package's fields (pinned
 * version, docs/dependencies.md); when they are not what we expect, the caller falls back to `reset()`.
 */

interface WasmCommon {
  wasm: Record<string, unknown> & { free(ptr: number): void };
  allocateTypedArray<T>(
    length: number,
    type: { new (buffer: ArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number },
    track?: boolean,
  ): { ptr: number; buf: T };
}

interface MpegInternals {
  _common?: WasmCommon;
  _decoder?: number;
  _sampleRate: number;
  _inputBytes: number;
  _outputSamples: number;
  _frameNumber: number;
}

type Export = (...args: number[]) => number;

/**
 * Re-creates mpg123's handle (gapless on, as `mpegDecoder` creates it) in the decoder's own instance.
 * Returns false, touching nothing, when the decoder does not have the fields of mpg123-decoder 1.0.3.
 */
export const resetMpegInPlace = (decoder: object): boolean => {
  const d = decoder as MpegInternals;
  const wasm = d._common?.wasm;
  const create = wasm?.mpeg_frame_decoder_create as Export | undefined;
  const destroy = wasm?.mpeg_frame_decoder_destroy as Export | undefined;
  if (!d._common || !wasm || typeof d._decoder !== 'number' || typeof create !== 'function' || !destroy)
    return false;
  destroy(d._decoder);
  wasm.free(d._decoder);
  const slot = d._common.allocateTypedArray(1, Uint32Array, false);
  const error = create(slot.ptr, 1);
  d._decoder = slot.buf[0]!;
  wasm.free(slot.ptr);
  if (error) throw new Error(`mpg123 could not re-create its decoder (error ${error})`);
  d._sampleRate = 0;
  d._inputBytes = 0;
  d._outputSamples = 0;
  d._frameNumber = 0;
  return true;
};
