;; The resampler's inner loop (lambdas/core/audio/resample.ts, `render`) in WebAssembly: it steps the
;; output position and computes each output's FIR dot product four float32 lanes at a time. JavaScript
;; cannot use SIMD; this runs the same multiply-adds ~4–5× faster. Built into fir-wasm.ts by
;; `npm run build:wasm` (scripts/build-wasm.ts).
;;
;; Four outputs are computed together where all four lie inside the input: four independent
;; accumulators (the adds of one output no longer wait for each other) and one transpose-add that
;; reduces the four at once. The remaining outputs are computed one at a time with the same order of
;; additions — one accumulator over the taps in order, then (lanes 0 + 2) + (lanes 1 + 3) — so an output's
;; value does not depend on whether it was computed alone or in a group of four (streams and whole signals
;; group outputs differently).
(module
  (memory (export "memory") 1)

  ;; The first input index and the filter row of the output at position `base` + `remainder`/`to`:
  ;; the row is JavaScript's Math.round(remainder · phaseScale) (ties upwards; x − floor(x) is exact for
  ;; x ≥ 0), and past the last row the next input sample's first row (as `nextTap` in resample.ts).
  (func $tap (param $base i32) (param $remainder i32) (param $phaseScale f64) (param $phases i32)
    (param $firstOffset i32) (result i32 i32)
    (local $x f64) (local $floor f64) (local $phase i32)
    (local.set $x (f64.mul (f64.convert_i32_s (local.get $remainder)) (local.get $phaseScale)))
    (local.set $floor (f64.floor (local.get $x)))
    (local.set $phase (i32.add (i32.trunc_f64_s (local.get $floor))
      (f64.ge (f64.sub (local.get $x) (local.get $floor)) (f64.const 0.5))))
    (if (result i32 i32) (i32.eq (local.get $phase) (local.get $phases))
      (then (i32.add (i32.add (local.get $base) (local.get $firstOffset)) (i32.const 1)) (i32.const 0))
      (else (i32.add (local.get $base) (local.get $firstOffset)) (local.get $phase))))

  ;; The position one output later: `base` + `baseStep`, `remainder` + `remainderStep` carried into base.
  (func $advance (param $base i32) (param $remainder i32) (param $to i32) (param $baseStep i32)
    (param $remainderStep i32) (result i32 i32)
    (local.set $base (i32.add (local.get $base) (local.get $baseStep)))
    (local.set $remainder (i32.add (local.get $remainder) (local.get $remainderStep)))
    (if (result i32 i32) (i32.ge_s (local.get $remainder) (local.get $to))
      (then (i32.add (local.get $base) (i32.const 1)) (i32.sub (local.get $remainder) (local.get $to)))
      (else (local.get $base) (local.get $remainder))))

  ;; Σ_{k < taps} c[k] · x[k] for byte addresses c and x, taps a multiple of 4 (the filter bank pads with
  ;; zero taps), in the order described at the top.
  (func $dot (param $c i32) (param $x i32) (param $taps i32) (result f32)
    (local $stop i32) (local $a v128)
    (local.set $stop (i32.add (local.get $c) (i32.shl (local.get $taps) (i32.const 2))))
    (loop $step
      (local.set $a (f32x4.add (local.get $a)
        (f32x4.mul (v128.load (local.get $c)) (v128.load (local.get $x)))))
      (local.set $c (i32.add (local.get $c) (i32.const 16)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (br_if $step (i32.lt_u (local.get $c) (local.get $stop))))
    (local.set $a (f32x4.add (local.get $a)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a) (local.get $a))))
    (f32.add (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a))))

  ;; The four dot products of rows c0…c3 with inputs x0…x3 (byte addresses), as four lanes.
  (func $dot4 (param $c0 i32) (param $c1 i32) (param $c2 i32) (param $c3 i32) (param $x0 i32)
    (param $x1 i32) (param $x2 i32) (param $x3 i32) (param $taps i32) (result v128)
    (local $k i32) (local $bytes i32) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $s01 v128) (local $s23 v128)
    (local.set $bytes (i32.shl (local.get $taps) (i32.const 2)))
    (loop $step
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul
        (v128.load (i32.add (local.get $c0) (local.get $k))) (v128.load (i32.add (local.get $x0) (local.get $k))))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul
        (v128.load (i32.add (local.get $c1) (local.get $k))) (v128.load (i32.add (local.get $x1) (local.get $k))))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul
        (v128.load (i32.add (local.get $c2) (local.get $k))) (v128.load (i32.add (local.get $x2) (local.get $k))))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul
        (v128.load (i32.add (local.get $c3) (local.get $k))) (v128.load (i32.add (local.get $x3) (local.get $k))))))
      (local.set $k (i32.add (local.get $k) (i32.const 16)))
      (br_if $step (i32.lt_u (local.get $k) (local.get $bytes))))
    ;; [a0₀+a0₂, a0₁+a0₃, a1₀+a1₂, a1₁+a1₃] and the same for a2, a3; then pairwise sums of those.
    (local.set $s01 (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a0) (local.get $a1))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a0) (local.get $a1))))
    (local.set $s23 (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a2) (local.get $a3))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a2) (local.get $a3))))
    (f32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $s01) (local.get $s23))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $s01) (local.get $s23))))

  ;; Outputs from the position `base` + `remainder`/`to` (in input samples) on, into out[0…], while
  ;; fewer than `limit` are written and each output's taps lie inside the input taken so far
  ;; ([0, received), held from absolute index `keptFrom` at byte address x). Returns how many outputs
  ;; were written and the position after them.
  (func (export "render")
    (param $coef i32) (param $x i32) (param $out i32) (param $limit i32) (param $taps i32)
    (param $phases i32) (param $firstOffset i32) (param $keptFrom i32) (param $received i32)
    (param $to i32) (param $baseStep i32) (param $remainderStep i32) (param $phaseScale f64)
    (param $base i32) (param $remainder i32) (result i32 i32 i32)
    (local $count i32) (local $rowBytes i32) (local $xAt i32)
    (local $s0 i32) (local $p0 i32) (local $s1 i32) (local $p1 i32) (local $s2 i32) (local $p2 i32)
    (local $s3 i32) (local $p3 i32)
    (local $b1 i32) (local $r1 i32) (local $b2 i32) (local $r2 i32) (local $b3 i32) (local $r3 i32)
    (local.set $rowBytes (i32.shl (local.get $taps) (i32.const 2)))
    ;; Byte address of absolute input index 0.
    (local.set $xAt (i32.sub (local.get $x) (i32.shl (local.get $keptFrom) (i32.const 2))))
    (block $done
      (loop $outputs
        (br_if $done (i32.ge_s (local.get $count) (local.get $limit)))
        (call $tap (local.get $base) (local.get $remainder) (local.get $phaseScale) (local.get $phases)
          (local.get $firstOffset))
        (local.set $p0) (local.set $s0)
        (br_if $done (i32.lt_s (local.get $s0) (i32.const 0)))
        (br_if $done (i32.gt_s (i32.add (local.get $s0) (local.get $taps)) (local.get $received)))
        (call $advance (local.get $base) (local.get $remainder) (local.get $to) (local.get $baseStep)
          (local.get $remainderStep))
        (local.set $r1) (local.set $b1)
        (call $advance (local.get $b1) (local.get $r1) (local.get $to) (local.get $baseStep)
          (local.get $remainderStep))
        (local.set $r2) (local.set $b2)
        (call $advance (local.get $b2) (local.get $r2) (local.get $to) (local.get $baseStep)
          (local.get $remainderStep))
        (local.set $r3) (local.set $b3)
        (call $tap (local.get $b3) (local.get $r3) (local.get $phaseScale) (local.get $phases)
          (local.get $firstOffset))
        (local.set $p3) (local.set $s3)
        (if (i32.and
              (i32.le_s (i32.add (local.get $count) (i32.const 4)) (local.get $limit))
              (i32.le_s (i32.add (local.get $s3) (local.get $taps)) (local.get $received)))
          (then
            ;; Four outputs: inputs only move forward, so the first and the last bound all four.
            (call $tap (local.get $b1) (local.get $r1) (local.get $phaseScale) (local.get $phases)
              (local.get $firstOffset))
            (local.set $p1) (local.set $s1)
            (call $tap (local.get $b2) (local.get $r2) (local.get $phaseScale) (local.get $phases)
              (local.get $firstOffset))
            (local.set $p2) (local.set $s2)
            (v128.store
              (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2)))
              (call $dot4
                (i32.add (local.get $coef) (i32.mul (local.get $p0) (local.get $rowBytes)))
                (i32.add (local.get $coef) (i32.mul (local.get $p1) (local.get $rowBytes)))
                (i32.add (local.get $coef) (i32.mul (local.get $p2) (local.get $rowBytes)))
                (i32.add (local.get $coef) (i32.mul (local.get $p3) (local.get $rowBytes)))
                (i32.add (local.get $xAt) (i32.shl (local.get $s0) (i32.const 2)))
                (i32.add (local.get $xAt) (i32.shl (local.get $s1) (i32.const 2)))
                (i32.add (local.get $xAt) (i32.shl (local.get $s2) (i32.const 2)))
                (i32.add (local.get $xAt) (i32.shl (local.get $s3) (i32.const 2)))
                (local.get $taps)))
            (call $advance (local.get $b3) (local.get $r3) (local.get $to) (local.get $baseStep)
              (local.get $remainderStep))
            (local.set $remainder) (local.set $base)
            (local.set $count (i32.add (local.get $count) (i32.const 4))))
          (else
            (f32.store
              (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2)))
              (call $dot
                (i32.add (local.get $coef) (i32.mul (local.get $p0) (local.get $rowBytes)))
                (i32.add (local.get $xAt) (i32.shl (local.get $s0) (i32.const 2)))
                (local.get $taps)))
            (local.set $base (local.get $b1))
            (local.set $remainder (local.get $r1))
            (local.set $count (i32.add (local.get $count) (i32.const 1)))))
        (br $outputs)))
    (local.get $count) (local.get $base) (local.get $remainder))
)
