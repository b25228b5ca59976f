;; The resampler's inner loop (lambdas/core/audio/resample.ts, `render`) in WebAssembly: it steps the
;; output position and computes each output's FIR dot product four float32 lanes at a time. JavaScript
;; cannot use SIMD; this runs the same multiply-adds ~4–5× faster. Built into fir-wasm.ts by
;; `npm run build:wasm` (scripts/build-wasm.ts).
(module
  (memory (export "memory") 1)

  ;; Σ_{k < taps} c[k] · x[k] for byte addresses c and x; taps is a multiple of 8 (the filter bank pads
  ;; with zero taps). Two accumulators halve the add chain.
  (func $dot (param $c i32) (param $x i32) (param $taps i32) (result f32)
    (local $stop i32) (local $a v128) (local $b v128)
    (local.set $stop (i32.add (local.get $c) (i32.shl (local.get $taps) (i32.const 2))))
    (loop $step
      (local.set $a (f32x4.add (local.get $a)
        (f32x4.mul (v128.load (local.get $c)) (v128.load (local.get $x)))))
      (local.set $b (f32x4.add (local.get $b)
        (f32x4.mul (v128.load offset=16 (local.get $c)) (v128.load offset=16 (local.get $x)))))
      (local.set $c (i32.add (local.get $c) (i32.const 32)))
      (local.set $x (i32.add (local.get $x) (i32.const 32)))
      (br_if $step (i32.lt_u (local.get $c) (local.get $stop))))
    (local.set $a (f32x4.add (local.get $a) (local.get $b)))
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a)))
      (f32.add (f32x4.extract_lane 2 (local.get $a)) (f32x4.extract_lane 3 (local.get $a)))))

  ;; JavaScript's Math.round for x ≥ 0 (ties upwards), exactly: x − floor(x) is exact for such x.
  (func $round (param $x f64) (result i32)
    (local $floor f64)
    (local.set $floor (f64.floor (local.get $x)))
    (i32.add (i32.trunc_f64_s (local.get $floor))
      (f64.ge (f64.sub (local.get $x) (local.get $floor)) (f64.const 0.5))))

  ;; Outputs from the position `base` + `remainder`/`to` (in input samples) on, into out[0…], while
  ;; fewer than `limit` are written and each output's taps lie inside the input taken so far
  ;; ([0, received), held from absolute index `keptFrom` at byte address x). The phase of an output is
  ;; round(remainder · phaseScale), the next row's start past the last phase (as `render` computes it).
  ;; Returns how many outputs were written and the position after them.
  (func (export "render")
    (param $coef i32) (param $x i32) (param $out i32) (param $limit i32) (param $taps i32)
    (param $phases i32) (param $firstOffset i32) (param $keptFrom i32) (param $received i32)
    (param $to i32) (param $baseStep i32) (param $remainderStep i32) (param $phaseScale f64)
    (param $base i32) (param $remainder i32) (result i32 i32 i32)
    (local $count i32) (local $phase i32) (local $start i32)
    (block $done
      (loop $outputs
        (br_if $done (i32.ge_s (local.get $count) (local.get $limit)))
        (local.set $phase (call $round
          (f64.mul (f64.convert_i32_s (local.get $remainder)) (local.get $phaseScale))))
        (local.set $start (i32.add (local.get $base) (local.get $firstOffset)))
        (if (i32.eq (local.get $phase) (local.get $phases))
          (then
            (local.set $phase (i32.const 0))
            (local.set $start (i32.add (local.get $start) (i32.const 1)))))
        (br_if $done (i32.lt_s (local.get $start) (i32.const 0)))
        (br_if $done (i32.gt_s (i32.add (local.get $start) (local.get $taps)) (local.get $received)))
        (f32.store
          (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2)))
          (call $dot
            (i32.add (local.get $coef)
              (i32.shl (i32.mul (local.get $phase) (local.get $taps)) (i32.const 2)))
            (i32.add (local.get $x)
              (i32.shl (i32.sub (local.get $start) (local.get $keptFrom)) (i32.const 2)))
            (local.get $taps)))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (local.set $base (i32.add (local.get $base) (local.get $baseStep)))
        (local.set $remainder (i32.add (local.get $remainder) (local.get $remainderStep)))
        (if (i32.ge_s (local.get $remainder) (local.get $to))
          (then
            (local.set $remainder (i32.sub (local.get $remainder) (local.get $to)))
            (local.set $base (i32.add (local.get $base) (i32.const 1)))))
        (br $outputs)))
    (local.get $count) (local.get $base) (local.get $remainder))
)
