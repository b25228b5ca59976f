import { AudioError } from '../errors.ts';

/** What the WebM decoder needs from a Matroska/WebM file: its audio tracks and their frames. */
export interface MatroskaAudio {
  docType: string;
  /** Declared length in seconds (Segment Info Duration); 0 when absent (MediaRecorder writes none). */
  durationSec: number;
  track?: MatroskaTrack;
  /**
   * The first audio track's frames, laced blocks already split, in file order; empty ones dropped (an
   * Opus frame is ≥ 1 byte, and libopus takes an empty one for a lost packet and invents audio for it;
   * docs/dependencies.md). None for a codec whose frame limit is 0 (its decoder reads the file itself).
   */
  frames: Uint8Array[];
}

export interface MatroskaTrack {
  number: number;
  codecId: string;
  codecPrivate?: Uint8Array;
  sampleRate: number;
  channels: number;
}

// Element IDs (Matroska specification, RFC 9559), with their length-marker bits kept.
const ID = {
  docType: 0x4282,
  segment: 0x18538067,
  info: 0x1549a966,
  timecodeScale: 0x2ad7b1,
  duration: 0x4489,
  tracks: 0x1654ae6b,
  trackEntry: 0xae,
  trackNumber: 0xd7,
  trackType: 0x83,
  codecId: 0x86,
  codecPrivate: 0x63a2,
  audio: 0xe1,
  samplingFrequency: 0xb5,
  channels: 0x9f,
  cluster: 0x1f43b675,
  blockGroup: 0xa0,
  block: 0xa1,
  simpleBlock: 0xa3,
  ebml: 0x1a45dfa3,
} as const;

/** Masters whose children we read; they are stepped into, so unknown sizes (live recordings) just work. */
const DESCEND = new Set<number>([
  ID.ebml,
  ID.segment,
  ID.info,
  ID.tracks,
  ID.trackEntry,
  ID.audio,
  ID.cluster,
  ID.blockGroup,
]);

const corrupt = (message: string) => new AudioError('CORRUPT_AUDIO', `WebM/Matroska ${message}`);

/** A variable-length integer at `at`: its value (marker removed unless `keepMarker`) and length. */
const readVint = (bytes: Uint8Array, at: number, keepMarker: boolean) => {
  const first = bytes[at];
  if (first === undefined || first === 0) throw corrupt(`has an invalid element header at byte ${at}`);
  const length = Math.clz32(first) - 23;
  if (at + length > bytes.length) throw corrupt(`is cut off inside an element header at byte ${at}`);
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + bytes[at + i]!;
    allOnes &&= bytes[at + i] === 0xff;
  }
  return { value, length, unknown: !keepMarker && allOnes };
};

const readUint = (bytes: Uint8Array, from: number, to: number): number => {
  let value = 0;
  for (let i = from; i < to; i++) value = value * 256 + bytes[i]!;
  return value;
};

const readFloat = (bytes: Uint8Array, from: number, size: number): number => {
  const view = new DataView(bytes.buffer, bytes.byteOffset + from, size);
  return size === 4 ? view.getFloat32(0) : size === 8 ? view.getFloat64(0) : 0;
};

/** The lace sizes of a laced block (Xiph, EBML or fixed-size lacing, §10.3) and where its data starts. */
const laceSizes = (data: Uint8Array, lacing: number): { sizes: number[]; at: number } => {
  const count = data[0]! + 1;
  let at = 1;
  const sizes: number[] = [];
  if (lacing === 2) {
    const size = Math.floor((data.length - 1) / count);
    // All empty: 256 laces in one byte, the only lacing whose count is not paid for in bytes.
    if (size > 0) for (let i = 0; i < count; i++) sizes.push(size);
    return { sizes, at };
  }
  if (lacing === 1) {
    for (let i = 0; i < count - 1; i++) {
      let size = 0;
      let byte: number;
      do {
        byte = data[at++] ?? 0;
        size += byte;
      } while (byte === 255 && at < data.length);
      sizes.push(size);
    }
  } else {
    let { value, length } = readVint(data, at, false);
    sizes.push(value);
    at += length;
    for (let i = 1; i < count - 1; i++) {
      const delta = readVint(data, at, false);
      value += delta.value - (2 ** (7 * delta.length - 1) - 1); // signed: subtract half the range
      sizes.push(value);
      at += delta.length;
    }
  }
  sizes.push(data.length - at - sizes.reduce((a, b) => a + b, 0));
  return { sizes, at };
};

/** The non-empty frames of one block: its laces, or the block's data when it is not laced. */
const splitLaces = (data: Uint8Array, flags: number): Uint8Array[] => {
  const lacing = (flags >> 1) & 3;
  if (lacing === 0) return data.length > 0 ? [data] : [];
  const laced = laceSizes(data, lacing);
  let at = laced.at;
  const frames: Uint8Array[] = [];
  for (const size of laced.sizes) {
    if (size < 0 || at + size > data.length) throw corrupt('block has lace sizes beyond its data');
    if (size > 0) frames.push(data.subarray(at, at + size));
    at += size;
  }
  return frames;
};

/** The most frames of the chosen track to keep (0: keep none); more is TOO_LONG. */
export type FrameLimit = (track: MatroskaTrack) => number;

/** What the walk has read so far. */
interface WalkState {
  result: MatroskaAudio;
  frameLimit: FrameLimit;
  /** The chosen track's limit, set at its first block. */
  maxFrames: number;
  /** Every TrackEntry met so far, the one being read last. */
  tracks: MatroskaTrack[];
  timecodeScale: number;
  /** Segment Info Duration, in units of `timecodeScale` nanoseconds. */
  rawDuration: number;
}

/** Adds a block's frames, counted against the limit as they come. */
const keepFrames = (state: WalkState, frames: Uint8Array[]): void => {
  for (const frame of frames) {
    if (state.result.frames.length >= state.maxFrames) {
      throw new AudioError(
        'TOO_LONG',
        `WebM/Matroska audio track holds more than ${state.maxFrames} frames: more audio than the duration limit allows`,
      );
    }
    state.result.frames.push(frame);
  }
};

/** Keeps the frames of a block of the first audio track (chosen at its first block), laces split. */
const takeBlock = (state: WalkState, block: Uint8Array): void => {
  const { result } = state;
  if (!result.track) {
    result.track = state.tracks.find((t) => t.codecId.startsWith('A_'));
    if (!result.track) return;
    state.maxFrames = state.frameLimit(result.track);
  }
  if (state.maxFrames === 0) return;
  const number = readVint(block, 0, false);
  if (number.value !== result.track.number) return;
  const header = number.length + 3; // track number, 16-bit timecode, flags
  if (block.length < header) throw corrupt('block is shorter than its header');
  keepFrames(state, splitLaces(block.subarray(header), block[number.length + 2]!));
};

/** Reads an element we do not step into (bytes `content` to `end`); elements we do not need are skipped. */
const readLeaf = (state: WalkState, bytes: Uint8Array, id: number, content: number, end: number): void => {
  const track = state.tracks.at(-1);
  switch (id) {
    case ID.docType:
      state.result.docType = new TextDecoder().decode(bytes.subarray(content, end));
      break;
    case ID.timecodeScale:
      state.timecodeScale = readUint(bytes, content, end);
      break;
    case ID.duration:
      state.rawDuration = readFloat(bytes, content, end - content);
      break;
    case ID.trackNumber:
      if (track) track.number = readUint(bytes, content, end);
      break;
    case ID.trackType:
      if (track && readUint(bytes, content, end) !== 2) track.codecId = 'not-audio';
      break;
    case ID.codecId:
      if (track && track.codecId !== 'not-audio')
        track.codecId = new TextDecoder().decode(bytes.subarray(content, end));
      break;
    case ID.codecPrivate:
      if (track) track.codecPrivate = bytes.subarray(content, end);
      break;
    case ID.samplingFrequency:
      if (track) track.sampleRate = readFloat(bytes, content, end - content);
      break;
    case ID.channels:
      if (track) track.channels = readUint(bytes, content, end);
      break;
    case ID.simpleBlock:
    case ID.block:
      takeBlock(state, bytes.subarray(content, end));
      break;
  }
};

/**
 * Walks a Matroska/WebM file element by element (linear, no buffering) and returns its first audio
 * track and that track's frames, at most `frameLimit(track)` of them (TOO_LONG beyond, found before
 * they are all listed). An element whose declared size runs past the end of the file means the file
 * was cut off: CORRUPT_AUDIO (recordings with unknown sizes cannot be judged that way).
 */
export const readMatroska = (bytes: Uint8Array, frameLimit: FrameLimit): MatroskaAudio => {
  const state: WalkState = {
    result: { docType: '', durationSec: 0, frames: [] },
    frameLimit,
    maxFrames: 0,
    tracks: [],
    timecodeScale: 1_000_000,
    rawDuration: 0,
  };
  let at = 0;
  while (at < bytes.length) {
    const id = readVint(bytes, at, true);
    const size = readVint(bytes, at + id.length, false);
    const content = at + id.length + size.length;
    const end = size.unknown ? bytes.length : content + size.value;
    if (end > bytes.length) {
      throw corrupt(`is cut off: an element at byte ${at} needs ${end} bytes, the file has ${bytes.length}`);
    }
    if (DESCEND.has(id.value)) {
      if (id.value === ID.trackEntry) {
        state.tracks.push({ number: 0, codecId: '', sampleRate: 8000, channels: 1 });
      }
      at = content;
      continue;
    }
    if (size.unknown) throw corrupt(`element at byte ${at} has an unknown size`);
    readLeaf(state, bytes, id.value, content, end);
    at = end;
  }
  state.result.durationSec = (state.rawDuration * state.timecodeScale) / 1e9;
  return state.result;
};
