/**
 * Sums over sample ranges in four independent accumulators (i mod 4), added as ((s0 + s1) + s2) + s3.
 * One running float64 sum is bound by the latency of each add (V8 does not reorder float adds); four
 * run ~3× faster. They differ from the one-accumulator sum only in rounding (~1e-16 relative), and not
 * at all where every partial sum is exact: 16-bit PCM samples and their squares, over the block lengths
 * used here, fit float64's 53 bits in any order.
 */

/** Σ x[i] for from ≤ i < to. */
export function sumOf(x: Float32Array, from = 0, to = x.length): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = from;
  for (; i + 3 < to; i += 4) {
    s0 += x[i]!;
    s1 += x[i + 1]!;
    s2 += x[i + 2]!;
    s3 += x[i + 3]!;
  }
  for (; i < to; i++) s0 += x[i]!;
  return s0 + s1 + s2 + s3;
}

/** Σ x[i]² for from ≤ i < to. */
export function sumOfSquares(x: Float32Array, from = 0, to = x.length): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = from;
  for (; i + 3 < to; i += 4) {
    s0 += x[i]! * x[i]!;
    s1 += x[i + 1]! * x[i + 1]!;
    s2 += x[i + 2]! * x[i + 2]!;
    s3 += x[i + 3]! * x[i + 3]!;
  }
  for (; i < to; i++) s0 += x[i]! * x[i]!;
  return s0 + s1 + s2 + s3;
}

/**
 * Mean square of each of the first `count` blocks of `length` samples (a block cut short by the end of
 * `x` is averaged over the samples it has): loudness and pause detection measure the same blocks.
 */
export function blockMeanSquares(x: Float32Array, length: number, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let b = 0; b < count; b++) {
    const start = b * length;
    const end = Math.min(x.length, start + length);
    out[b] = sumOfSquares(x, start, end) / (end - start);
  }
  return out;
}

/**
 * Both loops of each sum run at load, on 7 values, 16 times (V8 keeps no type feedback for a function's
 * first few calls: `--invocation-count-for-feedback-allocation`, 8 in Node 22). V8 compiles a sum's main loop while its first
 * long call is still running (on-stack replacement); the tail loop after it had then never run, so the
 * compiled code deoptimised there on every later call whose length was not a multiple of 4, and the sum
 * ran in the interpreter (0.84 ms of each 3 s M4A clip in a profile of `ser predict`; `--trace-deopt`
 * showed it for every format but Opus). With the types of both loops known first, it does not.
 */
const PRIME = new Float32Array(7);
for (let call = 0; call < 16; call++) {
  sumOf(PRIME);
  sumOfSquares(PRIME);
}
