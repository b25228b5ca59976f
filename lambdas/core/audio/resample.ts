import { firKernel } from './fir-kernel.ts';

/**
 * Band-limited resampling for the hot path (every upload is brought to the model's rate).
 *
 * Choice: a hand-written polyphase windowed-sinc (Kaiser window) with a precomputed filter bank, rather
 * than @alexanderolsen/libsamplerate-js 2.1.2 (WASM libsamplerate). Measured on this machine (Node 20,
 * shared 2-core box), 3 s clip 24414→16000, best of 20–30 runs:
 * - libsamplerate-js: `create()` is async (5–21 ms, a Promise per rate pair; CJS, default import only),
 *   then `simple()` is synchronous: SINC_FASTEST 8.2 ms, SINC_MEDIUM 19 ms, LINEAR 0.5 ms (no anti-aliasing);
 * - this file, then all JavaScript: 1.5 ms (≈ 31 ns per output sample; 28 taps), 44.1k/48k→16k 2.4 ms
 *   (52 taps), first call +5–14 ms (bank + JIT). The JS inner loop ran ≈ 0.9 ns per multiply-add, so the
 *   tap count is the cost: 8 zero crossings per side was the best speed/quality point measured. The
 *   multiply-adds now run in a SIMD kernel (below); `npm run bench` prints what resampling costs today.
 * Response measured through `resample` (gain of a pure tone; aliases measured where they land):
 *   24414→16000 and 48000→16000 alike: 1–4 kHz 0.0 dB, 6 kHz −0.5 dB, 7 kHz −4.5 dB, 7.5 kHz −9 dB,
 *   8.5 kHz −28 dB, 9 kHz −50 dB, 11 kHz −67 dB. (12 zero crossings, β 7.9: 9 kHz −79 dB but 2.2 ms.)
 * Design:
 * - HALF_TAPS zero crossings of the sinc on each side, counted at the *lower* of the two rates, so the
 *   filter is always `2·HALF_TAPS` taps long at the output rate when downsampling (wider in input samples)
 *   and the low-pass sits just below the new Nyquist (anti-aliasing) — or the old one when upsampling;
 * - the fractional position of each output sample is quantised to one of up to MAX_PHASES phases; for a
 *   ratio L/M in lowest terms with L ≤ MAX_PHASES (44.1k→16k: 160, 8k→16k: 2, 48k→16k: 1) the phases are
 *   exact, otherwise (24414→16000 needs 8000) the timing error is ≤ 1/(2·MAX_PHASES) sample, i.e. an
 *   error floor below −60 dB for speech frequencies;
 * - each phase's taps are normalised to sum to 1, so DC passes exactly, and edges replicate the first/last
 *   sample instead of padding with zeros (no droop at the ends);
 * - banks are cached per rate pair (the first call costs ≈ 5–14 ms incl. JIT), the most recently used up to
 *   MAX_CACHED_BANK_BYTES: any rate 1000–384 000 Hz is accepted, and a bank near 384 kHz → 16 kHz is ~1.5 MB,
 *   so a cache that kept every pair grew by 700 MB over 500 tiny WAVs at distinct rates.
 * One implementation serves whole signals and decoders' streams (`createStreamingResampler`): input is
 * taken in blocks of BLOCK samples into one reused buffer that keeps only what the next output still
 * needs, and one loop (`render`) places every output, so a stream gives sample for sample what the whole
 * signal gives. The dot products themselves run in WebAssembly SIMD (fir-kernel.ts, float32 like the
 * samples), four outputs at a time where they can: on this machine 24414→16000 of a 2.9 s clip took
 * 0.89 ms one output at a time and 0.50 ms four at a time (median of 200, same session); the JavaScript
 * loop summed in float64, and the outputs differ from it by less than 1e-6
 * (test/resample-stream.test.ts), far below 16-bit quantisation. Outputs whose taps
 * reach past either end of the input (the first and last few) stay in JavaScript (`edgeDot`).
 */
const HALF_TAPS = 8;
const MAX_PHASES = 1024;
/** Kaiser β = 6: ≈ 60 dB side lobes with a narrower transition than β ≈ 8 at this length (measured above). */
const KAISER_BETA = 6;
/** Low-pass cutoff as a fraction of the lower Nyquist: the transition band ends near the new Nyquist. */
const ROLLOFF = 0.9;

export interface FilterBank {
  phases: number;
  taps: number;
  /** Index of the first input sample relative to floor(position). */
  firstOffset: number;
  /** phases × taps float32 values, as the SIMD kernel reads them. */
  coefficients: Float32Array;
}

const besselI0 = (x: number): number => {
  // Power series; converges fast for the β used here.
  let sum = 1;
  let term = 1;
  const half = x / 2;
  for (let k = 1; k < 50; k++) {
    term *= (half / k) * (half / k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
};

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Room for the usual rates' banks many times over (48k→16k: 256 bytes, 44.1k→16k: 30 KB) or ~5 near 384 kHz. */
const MAX_CACHED_BANK_BYTES = 8 * 2 ** 20;
/** Least recently used first: a Map iterates in insertion order, and a bank is re-inserted on each use. */
const banks = new Map<string, FilterBank>();
let cachedBankBytes = 0;

const buildBank = (fromRate: number, toRate: number): FilterBank => {
  const scale = Math.min(1, toRate / fromRate); // < 1 when downsampling: stretch the kernel in input samples
  const halfWidth = HALF_TAPS / scale; // in input samples
  const cutoff = 0.5 * scale * ROLLOFF; // cycles per input sample
  const divisor = gcd(fromRate, toRate);
  const exactPhases = toRate / divisor;
  const phases = Number.isInteger(exactPhases) && exactPhases <= MAX_PHASES ? exactPhases : MAX_PHASES;
  const firstOffset = -Math.ceil(halfWidth) + 1;
  // Padded to a multiple of 4 (zero taps): the kernel reads four-lane vectors.
  const taps = Math.ceil((2 * Math.ceil(halfWidth)) / 4) * 4;
  const coefficients = new Float32Array(phases * taps);
  const i0Beta = besselI0(KAISER_BETA);
  for (let p = 0; p < phases; p++) {
    const frac = p / phases;
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      const t = firstOffset + k - frac; // distance of this input sample from the output position
      const r = t / halfWidth;
      let value = 0;
      if (Math.abs(r) < 1) {
        const x = 2 * cutoff * t;
        const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
        value = sinc * (besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0Beta);
      }
      coefficients[p * taps + k] = value;
      sum += value;
    }
    for (let k = 0; k < taps; k++) coefficients[p * taps + k]! /= sum;
  }
  return { phases, taps, firstOffset, coefficients };
};

/** The cached filter bank for integer rates `fromRate` → `toRate` (shared with the streaming resampler). */
export const filterBank = (fromRate: number, toRate: number): FilterBank => {
  const key = `${fromRate}:${toRate}`;
  let bank = banks.get(key);
  if (bank) {
    banks.delete(key);
  } else {
    bank = buildBank(fromRate, toRate);
    cachedBankBytes += bank.coefficients.byteLength;
  }
  banks.set(key, bank);
  evictBanks();
  return bank;
};

/** Drops the least recently used banks while over the cap, never the one just used. */
const evictBanks = (): void => {
  for (const [key, bank] of banks) {
    if (cachedBankBytes <= MAX_CACHED_BANK_BYTES || banks.size === 1) return;
    banks.delete(key);
    cachedBankBytes -= bank.coefficients.byteLength;
  }
};

/** Number of output samples for `inputLength` samples: round(n · to / from). */
export const resampledLength = (inputLength: number, fromRate: number, toRate: number): number =>
  Math.round((inputLength * toRate) / fromRate);

/** Input samples taken per step: bounds the kept buffer (~BLOCK + taps) whatever a decoder hands over. */
const BLOCK = 4096;

/**
 * A resampler fed chunk by chunk: decoders push mono chunks at the source rate and keep only the output
 * (16 kHz for the model), so memory follows the output, not the declared input rate (a 384 kHz file
 * would otherwise hold 24× more samples than the model needs).
 */
export interface StreamingResampler {
  /** Takes the next input samples; returns the output samples that no later input can change. */
  push(chunk: Float32Array): Float32Array;
  /** Ends the stream: returns the last output samples (edges replicate the last input sample). */
  finish(): Float32Array;
}

interface ResampleState {
  from: number;
  to: number;
  bank: FilterBank;
  /** Input from absolute index `keptFrom` on (`kept` samples). */
  buffer: Float32Array;
  keptFrom: number;
  kept: number;
  /** Input samples taken so far. */
  received: number;
  /** Outputs computed so far; the next one sits at input position `base` + `remainder` / `to`. */
  produced: number;
  base: number;
  remainder: number;
  /** The position's advance per output: `baseStep` + `remainderStep` / `to` input samples. */
  baseStep: number;
  remainderStep: number;
}

/** First input index and filter row of the next output sample. */
const nextTap = (state: ResampleState): { start: number; phase: number } => {
  const { phases, firstOffset } = state.bank;
  // The same expression as the kernel's (fir.wat), so both agree on the position to the last bit.
  const phase = Math.round(state.remainder * (phases / state.to));
  const start = state.base + firstOffset;
  return phase === phases ? { start: start + 1, phase: 0 } : { start, phase };
};

/** Appends `chunk` (≤ BLOCK samples) to the kept input, dropping what no later output reads. */
const take = (state: ResampleState, chunk: Float32Array): void => {
  // Index 0 stays while an output may still replicate it (start < 0).
  const needFrom = Math.max(0, Math.min(nextTap(state).start, state.received));
  const drop = Math.min(state.kept, Math.max(0, needFrom - state.keptFrom));
  if (drop > 0) {
    state.buffer.copyWithin(0, drop, state.kept);
    state.kept -= drop;
    state.keptFrom += drop;
  }
  if (state.kept + chunk.length > state.buffer.length) {
    const grown = new Float32Array(Math.max(2 * state.buffer.length, state.kept + chunk.length));
    grown.set(state.buffer.subarray(0, state.kept));
    state.buffer = grown;
  }
  state.buffer.set(chunk, state.kept);
  state.kept += chunk.length;
  state.received += chunk.length;
};

/**
 * Computes outputs into `out` from index `count` on, while there is room and — unless `final` — the
 * output's taps lie within the input taken so far; returns the new count. Outputs whose taps lie inside
 * the input come from the SIMD kernel in runs (only the first and last outputs reach past an end); past
 * the ends of the input the taps read the first/last sample (so DC and slow signals are not pulled
 * towards zero).
 */
const render = (state: ResampleState, out: Float32Array, count: number, final: boolean): number => {
  const { taps, coefficients } = state.bank;
  const kernel = firKernel();
  kernel.load(state.bank, state.buffer.subarray(0, state.kept));
  let n = count;
  while (n < out.length) {
    const run = kernel.render(state, out.length - n);
    if (run.values.length > 0) {
      out.set(run.values, n);
      n += run.values.length;
      state.base = run.base;
      state.remainder = run.remainder;
      continue;
    }
    // The next output reaches past an end of the input: placed here as the kernel places outputs.
    const { start, phase } = nextTap(state);
    if (!final && start + taps > state.received) break;
    out[n++] = edgeDot(
      coefficients,
      phase * taps,
      state.buffer,
      start,
      state.keptFrom,
      state.received - 1,
      taps,
    );
    // Position j·from/to as integer `base` + remainder/to: it never drifts on long inputs.
    state.base += state.baseStep;
    state.remainder += state.remainderStep;
    if (state.remainder >= state.to) {
      state.remainder -= state.to;
      state.base++;
    }
  }
  state.produced += n - count;
  return n;
};

/** The same sum at the edges, with input indices clamped to [0, last]. */
const edgeDot = (
  c: Float32Array,
  row: number,
  x: Float32Array,
  start: number,
  keptFrom: number,
  last: number,
  taps: number,
): number => {
  let acc = 0;
  for (let k = 0; k < taps; k++) acc += c[row + k]! * x[Math.min(last, Math.max(0, start + k)) - keptFrom]!;
  return acc;
};

const checkRates = (fromRate: number, toRate: number): void => {
  if (!(fromRate > 0 && toRate > 0 && Number.isFinite(fromRate) && Number.isFinite(toRate))) {
    throw new RangeError(`Invalid sample rates ${fromRate} → ${toRate}`);
  }
};

const newState = (from: number, to: number): ResampleState => ({
  from,
  to,
  bank: filterBank(from, to),
  buffer: new Float32Array(0),
  keptFrom: 0,
  kept: 0,
  received: 0,
  produced: 0,
  base: 0,
  remainder: 0,
  baseStep: Math.floor(from / to),
  remainderStep: from - Math.floor(from / to) * to,
});

/** Takes `input` block by block, rendering every output it makes ready into `out` from `count` on. */
const feed = (state: ResampleState, input: Float32Array, out: Float32Array, count: number): number => {
  let n = count;
  for (let at = 0; at < input.length; at += BLOCK) {
    take(state, input.subarray(at, at + BLOCK));
    n = render(state, out, n, false);
  }
  return n;
};

/** A streaming resampler `fromRate` → `toRate` (rounded to whole hertz); the same output as `resample`. */
export const createStreamingResampler = (fromRate: number, toRate: number): StreamingResampler => {
  checkRates(fromRate, toRate);
  const from = Math.round(fromRate);
  const to = Math.round(toRate);
  if (from === to) return { push: (chunk) => chunk, finish: () => new Float32Array(0) };
  const state = newState(from, to);
  return {
    push(chunk) {
      // Output j needs input up to j·from/to + taps: no more than this many can be ready.
      const ready = Math.ceil(((state.received + chunk.length) * to) / from) + 1 - state.produced;
      const out = new Float32Array(Math.max(0, ready));
      return out.subarray(0, feed(state, chunk, out, 0));
    },
    finish() {
      if (state.received === 0) return new Float32Array(0);
      const out = new Float32Array(Math.max(0, resampledLength(state.received, from, to) - state.produced));
      return out.subarray(0, render(state, out, 0, true));
    },
  };
};

/**
 * Resamples mono `samples` from `fromRate` to `toRate` (any ratio). Returns the input itself when the
 * rates are equal. Output sample j is the band-limited value at input position j·from/to. Non-integer rates
 * are rounded to whole hertz.
 */
export const resample = (input: Float32Array, fromRate: number, toRate: number): Float32Array => {
  checkRates(fromRate, toRate);
  if (fromRate === toRate) return input;
  // The exact position arithmetic is integer; a fractional rate is rounded (error < 0.5 Hz).
  const from = Math.round(fromRate);
  const to = Math.round(toRate);
  const out = new Float32Array(resampledLength(input.length, from, to));
  if (from === to || input.length === 0) return from === to ? input : out;
  const state = newState(from, to);
  render(state, out, feed(state, input, out, 0), true);
  return out;
};
