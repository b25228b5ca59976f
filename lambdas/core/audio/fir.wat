;; The resampler's inner loop (lambdas/core/audio/resample.ts) as WebAssembly SIMD: one FIR dot product
;; per output sample, four float32 lanes at a time. JavaScript cannot use SIMD; this runs the same
;; multiply-adds ~4–5× faster. Built into fir-wasm.ts by `npm run build:wasm` (scripts/build-wasm.ts).
(module
  (memory (export "memory") 1)
  ;; For i < n: out[i] = Σ_{k < taps} coef[row_i + k] · x[start_i + k], where `pairs` holds (row_i, start_i)
  ;; as int32 element offsets and coef, x and out are float32 arrays. Pointers are byte offsets; `taps`
  ;; is a multiple of 8 (the filter bank pads with zero taps). Two accumulators halve the add chain.
  (func (export "dots")
    (param $coef i32) (param $x i32) (param $pairs i32) (param $out i32) (param $n i32) (param $taps i32)
    (local $end i32) (local $c i32) (local $p i32) (local $stop i32) (local $a v128) (local $b v128)
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $outputs
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $c (i32.add (local.get $coef) (i32.shl (i32.load (local.get $pairs)) (i32.const 2))))
        (local.set $p (i32.add (local.get $x) (i32.shl (i32.load offset=4 (local.get $pairs)) (i32.const 2))))
        (local.set $stop (i32.add (local.get $c) (i32.shl (local.get $taps) (i32.const 2))))
        (local.set $a (v128.const f32x4 0 0 0 0))
        (local.set $b (v128.const f32x4 0 0 0 0))
        (loop $taps
          (local.set $a (f32x4.add (local.get $a)
            (f32x4.mul (v128.load (local.get $c)) (v128.load (local.get $p)))))
          (local.set $b (f32x4.add (local.get $b)
            (f32x4.mul (v128.load offset=16 (local.get $c)) (v128.load offset=16 (local.get $p)))))
          (local.set $c (i32.add (local.get $c) (i32.const 32)))
          (local.set $p (i32.add (local.get $p) (i32.const 32)))
          (br_if $taps (i32.lt_u (local.get $c) (local.get $stop))))
        (local.set $a (f32x4.add (local.get $a) (local.get $b)))
        (f32.store (local.get $out)
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a)))
            (f32.add (f32x4.extract_lane 2 (local.get $a)) (f32x4.extract_lane 3 (local.get $a)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $pairs (i32.add (local.get $pairs) (i32.const 8)))
        (br $outputs))))
)
