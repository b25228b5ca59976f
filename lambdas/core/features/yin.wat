;; YIN's search for one analysis window (lambdas/core/features/prosody.ts, `yinPeriod`) in WebAssembly:
;; the cross-correlations run two float64 lanes at a time. Every value is computed with the same
;; operations in the same order as the JavaScript it replaces (four partial sums i mod 4, added as
;; ((s0 + s1) + s2) + s3; no fused multiply-add), so the results are bit for bit the same.
;; Built into yin-wasm.ts by `npm run build:wasm` (scripts/build-wasm.ts).
(module
  (memory (export "memory") 1)
  ;; Σ_{k<τ} d(k) of the window being searched.
  (global $running (mut f64) (f64.const 0))

  ;; Σ x[a+i]·x[b+i] for i < length; a and b are byte addresses of float64 values.
  (func $cross (param $a i32) (param $b i32) (param $length i32) (result f64)
    (local $i i32) (local $s01 v128) (local $s23 v128) (local $s0 f64) (local $at i32)
    (block $main_done
      (loop $main
        (br_if $main_done (i32.ge_s (i32.add (local.get $i) (i32.const 3)) (local.get $length)))
        (local.set $at (i32.shl (local.get $i) (i32.const 3)))
        (local.set $s01 (f64x2.add (local.get $s01)
          (f64x2.mul (v128.load (i32.add (local.get $a) (local.get $at)))
                     (v128.load (i32.add (local.get $b) (local.get $at))))))
        (local.set $s23 (f64x2.add (local.get $s23)
          (f64x2.mul (v128.load offset=16 (i32.add (local.get $a) (local.get $at)))
                     (v128.load offset=16 (i32.add (local.get $b) (local.get $at))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $main)))
    (local.set $s0 (f64x2.extract_lane 0 (local.get $s01)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_s (local.get $i) (local.get $length)))
        (local.set $at (i32.shl (local.get $i) (i32.const 3)))
        (local.set $s0 (f64.add (local.get $s0)
          (f64.mul (f64.load (i32.add (local.get $a) (local.get $at)))
                   (f64.load (i32.add (local.get $b) (local.get $at))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail)))
    (f64.add
      (f64.add (f64.add (local.get $s0) (f64x2.extract_lane 1 (local.get $s01)))
               (f64x2.extract_lane 0 (local.get $s23)))
      (f64x2.extract_lane 1 (local.get $s23))))

  ;; d′(τ) into cmnd[τ] (lags in increasing order; `running` holds Σ_{k<τ} d(k)):
  ;; d(τ) = max(0, E(0) + E(τ) − 2·Σ x_j·x_{j+τ}); d′(τ) = d(τ)·τ / Σ_{k≤τ} d(k), 1 while that sum is 0.
  (func $difference (param $x i32) (param $energy i32) (param $cmnd i32) (param $start i32)
    (param $window i32) (param $e0 f64) (param $tau i32) (result f64)
    (local $d f64) (local $value f64) (local $late i32)
    (local.set $late (i32.add (local.get $start) (local.get $tau)))
    (local.set $d (f64.max (f64.const 0)
      (f64.sub
        (f64.sub
          (f64.add (local.get $e0)
            (f64.load (i32.add (local.get $energy)
              (i32.shl (i32.add (local.get $late) (local.get $window)) (i32.const 3)))))
          (f64.load (i32.add (local.get $energy) (i32.shl (local.get $late) (i32.const 3)))))
        (f64.mul (f64.const 2)
          (call $cross
            (i32.add (local.get $x) (i32.shl (local.get $start) (i32.const 3)))
            (i32.add (local.get $x) (i32.shl (local.get $late) (i32.const 3)))
            (local.get $window))))))
    (global.set $running (f64.add (global.get $running) (local.get $d)))
    (local.set $value
      (if (result f64) (f64.gt (global.get $running) (f64.const 0))
        (then (f64.div (f64.mul (local.get $d) (f64.convert_i32_s (local.get $tau))) (global.get $running)))
        (else (f64.const 1))))
    (f64.store (i32.add (local.get $cmnd) (i32.shl (local.get $tau) (i32.const 3))) (local.get $value))
    (local.get $value))

  ;; The first lag ≥ minLag whose d′ falls below `threshold`, walked down to the bottom of its dip, or −1;
  ;; and the lowest d′ seen. cmnd[0…maxLag] is left filled up to the lags read (for the parabola).
  (func (export "yin") (param $x i32) (param $energy i32) (param $cmnd i32) (param $start i32)
    (param $window i32) (param $minLag i32) (param $maxLag i32) (param $threshold f64) (result i32 f64)
    (local $e0 f64) (local $tau i32) (local $value f64) (local $lowest f64)
    (global.set $running (f64.const 0))
    (local.set $e0 (f64.sub
      (f64.load (i32.add (local.get $energy)
        (i32.shl (i32.add (local.get $start) (local.get $window)) (i32.const 3))))
      (f64.load (i32.add (local.get $energy) (i32.shl (local.get $start) (i32.const 3))))))
    (f64.store (local.get $cmnd) (f64.const 1))
    (local.set $tau (i32.const 1))
    (block $warm_done
      (loop $warm
        (br_if $warm_done (i32.ge_s (local.get $tau) (local.get $minLag)))
        (drop (call $difference (local.get $x) (local.get $energy) (local.get $cmnd) (local.get $start)
          (local.get $window) (local.get $e0) (local.get $tau)))
        (local.set $tau (i32.add (local.get $tau) (i32.const 1)))
        (br $warm)))
    (local.set $lowest (f64.const 1))
    (local.set $tau (local.get $minLag))
    (block $search_done
      (loop $search
        (br_if $search_done (i32.gt_s (local.get $tau) (local.get $maxLag)))
        (local.set $value (call $difference (local.get $x) (local.get $energy) (local.get $cmnd)
          (local.get $start) (local.get $window) (local.get $e0) (local.get $tau)))
        (if (f64.lt (local.get $value) (local.get $lowest)) (then (local.set $lowest (local.get $value))))
        ;; As `value >= threshold` → next lag in JavaScript (a NaN would walk the dip there too).
        (if (i32.eqz (f64.ge (local.get $value) (local.get $threshold)))
          (then
            (block $dip_done
              (loop $dip
                (br_if $dip_done (i32.gt_s (i32.add (local.get $tau) (i32.const 1)) (local.get $maxLag)))
                (br_if $dip_done (i32.eqz (f64.lt
                  (call $difference (local.get $x) (local.get $energy) (local.get $cmnd) (local.get $start)
                    (local.get $window) (local.get $e0) (i32.add (local.get $tau) (i32.const 1)))
                  (f64.load (i32.add (local.get $cmnd) (i32.shl (local.get $tau) (i32.const 3)))))))
                (local.set $tau (i32.add (local.get $tau) (i32.const 1)))
                (br $dip)))
            (return (local.get $tau) (local.get $lowest))))
        (local.set $tau (i32.add (local.get $tau) (i32.const 1)))
        (br $search)))
    (i32.const -1) (local.get $lowest))
)
