/**
 * A fresh codec state inside an already instantiated WASM decoder.
 *
 * mpg123-decoder's and opus-decoder's `reset()` (and ogg-opus-decoder, for every stream) free the whole
 * WASM instance and instantiate a new one (its own linear memory, 16–28 MB, for every file): ~1–2 ms per
 * file plus the garbage collections those memories cause. The codec's state lives in one handle made by the module's `*_create` export, so destroying and
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

interface CodecHandle {
  common: WasmCommon;
  wasm: WasmCommon['wasm'];
  create: Export;
  /** Destroys the codec state at `handle` and frees its memory. */
  release: (handle: number) => void;
  handle: number;
}

/**
 * The decoder's WASM instance, its codec handle and the module's `<codec>_frame_decoder_create`/`_destroy`
 * exports; undefined when any of them is not where the pinned version keeps it.
 */
const codecHandle = (
  d: { _common?: WasmCommon; _decoder?: number },
  codec: 'mpeg' | 'opus',
): CodecHandle | undefined => {
  const common = d._common;
  const wasm = common?.wasm;
  const create = wasm?.[`${codec}_frame_decoder_create`] as Export | undefined;
  const destroy = wasm?.[`${codec}_frame_decoder_destroy`] as Export | undefined;
  if (!common || !wasm || typeof d._decoder !== 'number' || typeof create !== 'function' || !destroy)
    return undefined;
  const release = (handle: number) => {
    destroy(handle);
    wasm.free(handle);
  };
  return { common, wasm, create, release, handle: d._decoder };
};

/**
 * Re-creates mpg123's handle (gapless on, as `mpegDecoder` creates it) in the decoder's own instance.
 * Returns false, touching nothing, when the decoder does not have the fields of mpg123-decoder 1.0.3.
 */
export const resetMpegInPlace = (decoder: object): boolean => {
  const d = decoder as MpegInternals;
  const codec = codecHandle(d, 'mpeg');
  if (!codec) return false;
  codec.release(codec.handle);
  const slot = codec.common.allocateTypedArray(1, Uint32Array, false);
  const error = codec.create(slot.ptr, 1);
  d._decoder = slot.buf[0]!;
  codec.wasm.free(slot.ptr);
  if (error) throw new Error(`mpg123 could not re-create its decoder (error ${error})`);
  d._sampleRate = 0;
  d._inputBytes = 0;
  d._outputSamples = 0;
  d._frameNumber = 0;
  return true;
};

interface OpusInternals {
  _common?: WasmCommon;
  _decoder?: number;
  _sampleRate: number;
  _channels: number;
  _streamCount: number;
  _coupledStreamCount: number;
  _channelMappingTable: number[];
  _preSkip: number;
  _forceStereo: number;
  _inputBytes: number;
  _outputSamples: number;
  _frameNumber: number;
}

/** The channel mapping each decoder's re-created state reads: allocated once per decoder, freed with it. */
const opusMappings = new WeakMap<object, number>();

/**
 * `opus_frame_decoder_destroy` leaves ~23 KB of the instance's heap allocated (measured: malloc's next
 * block moves up by that much per re-creation; the 28 MB heap does not grow, so ~1000 re-creations end
 * in "memory access out of bounds"). After this many the caller makes a new instance instead, which
 * bounds the leak to ~2.3 MB and still saves 99 instantiations in 100.
 */
const OPUS_RECREATIONS_PER_INSTANCE = 100;
const opusRecreations = new WeakMap<object, number>();

/**
 * Re-creates libopus's decoder (the options the decoder was made with, pre-skip included) in the
 * decoder's own instance. Returns false, touching nothing, without the fields of opus-decoder 0.7.12 or
 * once the instance has had OPUS_RECREATIONS_PER_INSTANCE re-creations (then `reset()` it).
 */
export const resetOpusInPlace = (decoder: object): boolean => {
  const d = decoder as OpusInternals;
  const codec = codecHandle(d, 'opus');
  if (!codec) return false;
  const { common } = codec;
  // Counted per WASM instance (`reset()` replaces `_common`).
  const recreations = opusRecreations.get(common) ?? 0;
  if (recreations >= OPUS_RECREATIONS_PER_INSTANCE) return false;
  opusRecreations.set(common, recreations + 1);
  let mapping = opusMappings.get(common);
  if (mapping === undefined) {
    // Tracked by the wrapper, so its free() releases it with the rest.
    const table = common.allocateTypedArray(d._channels, Uint8Array);
    table.buf.set(d._channelMappingTable);
    mapping = table.ptr;
    opusMappings.set(common, mapping);
  }
  codec.release(codec.handle);
  const { _sampleRate, _channels, _streamCount, _coupledStreamCount, _preSkip, _forceStereo } = d;
  d._decoder = codec.create(
    _sampleRate,
    _channels,
    _streamCount,
    _coupledStreamCount,
    mapping,
    _preSkip,
    _forceStereo,
  );
  d._inputBytes = 0;
  d._outputSamples = 0;
  d._frameNumber = 0;
  return true;
};
