;; The feature frames' spectral work (lambdas/core/features/extract.ts) in WebAssembly: windowing,
;; fft.js 4.0's real radix-4 transform and meyda's rounding of the power (`spectra`), and the folded
;; DCT-II of the log-mel bands into MFCCs (`dct`), for two frames at a time, one per float64 lane. Each
;; lane runs fft.js's operations in fft.js's order (no fused multiply-add; ×1 and ×−1 by `inv` written as
;; nothing and as negation, which are exact), and the DCT the JavaScript loop's, so every value is bit
;; for bit the one fft.js and the JavaScript gave. Elements are f64x2 (16 bytes, lane 0 =
;; frame f, lane 1 = frame f + 1); fft.js's `table` (cos, −sin pairs) and the DCT matrix are read as
;; float64 scalars.
;; Built into spectral-wasm.ts by `npm run build:wasm` (scripts/build-wasm.ts).
(module
  (memory (export "memory") 1)

  ;; data[n] = (signal[a + n]·window[n], signal[b + n]·window[n]): float32 values multiplied in float64.
  (func $window (param $signal i32) (param $window i32) (param $a i32) (param $b i32) (param $size i32)
    (param $data i32)
    (local $n i32) (local $w f64) (local $pair v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $n) (local.get $size)))
        (local.set $w (f64.promote_f32 (f32.load
          (i32.add (local.get $window) (i32.shl (local.get $n) (i32.const 2))))))
        (local.set $pair (f64x2.replace_lane 1
          (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $signal)
            (i32.shl (i32.add (local.get $a) (local.get $n)) (i32.const 2))))))
          (f64.promote_f32 (f32.load (i32.add (local.get $signal)
            (i32.shl (i32.add (local.get $b) (local.get $n)) (i32.const 2)))))))
        (v128.store (i32.add (local.get $data) (i32.shl (local.get $n) (i32.const 4)))
          (f64x2.mul (local.get $pair) (f64x2.splat (local.get $w))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next))))

  ;; fft.js `_realTransform4`'s initial step: `_singleRealTransform2` (len 4) or `_singleRealTransform4`
  ;; (len 8) at each bit-reversed offset.
  (func $first (param $data i32) (param $out i32) (param $bitrev i32) (param $csize i32) (param $width i32)
    (local $step i32) (local $len i32) (local $outOff i32) (local $t i32) (local $off i32) (local $o i32)
    (local $s i32) (local $A v128) (local $B v128) (local $C v128) (local $D v128)
    (local $T0 v128) (local $T1 v128) (local $T2 v128) (local $T3 v128)
    (local.set $step (i32.shl (i32.const 1) (local.get $width)))
    (local.set $len (i32.shl (i32.div_u (local.get $csize) (local.get $step)) (i32.const 1)))
    ;; data offsets in bytes: the transforms' `step >>> 1` and `off >>> 1`, 16 bytes an element
    (local.set $s (i32.shl (i32.shr_u (local.get $step) (i32.const 1)) (i32.const 4)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $outOff) (local.get $csize)))
        (local.set $off (i32.add (local.get $data) (i32.shl (i32.shr_u
          (i32.load (i32.add (local.get $bitrev) (i32.shl (local.get $t) (i32.const 2))))
          (i32.const 1)) (i32.const 4))))
        (local.set $o (i32.add (local.get $out) (i32.shl (local.get $outOff) (i32.const 4))))
        (if (i32.eq (local.get $len) (i32.const 4))
          (then
            (local.set $A (v128.load (local.get $off)))
            (local.set $B (v128.load (i32.add (local.get $off) (local.get $s))))
            (v128.store (local.get $o) (f64x2.add (local.get $A) (local.get $B)))
            (v128.store offset=16 (local.get $o) (v128.const f64x2 0 0))
            (v128.store offset=32 (local.get $o) (f64x2.sub (local.get $A) (local.get $B)))
            (v128.store offset=48 (local.get $o) (v128.const f64x2 0 0)))
          (else
            (local.set $A (v128.load (local.get $off)))
            (local.set $B (v128.load (i32.add (local.get $off) (local.get $s))))
            (local.set $C (v128.load (i32.add (local.get $off) (i32.shl (local.get $s) (i32.const 1)))))
            (local.set $D (v128.load (i32.add (local.get $off) (i32.mul (local.get $s) (i32.const 3)))))
            (local.set $T0 (f64x2.add (local.get $A) (local.get $C)))
            (local.set $T1 (f64x2.sub (local.get $A) (local.get $C)))
            (local.set $T2 (f64x2.add (local.get $B) (local.get $D)))
            (local.set $T3 (f64x2.sub (local.get $B) (local.get $D)))
            (v128.store (local.get $o) (f64x2.add (local.get $T0) (local.get $T2)))
            (v128.store offset=16 (local.get $o) (v128.const f64x2 0 0))
            (v128.store offset=32 (local.get $o) (local.get $T1))
            (v128.store offset=48 (local.get $o) (f64x2.neg (local.get $T3)))
            (v128.store offset=64 (local.get $o) (f64x2.sub (local.get $T0) (local.get $T2)))
            (v128.store offset=80 (local.get $o) (v128.const f64x2 0 0))
            (v128.store offset=96 (local.get $o) (local.get $T1))
            (v128.store offset=112 (local.get $o) (local.get $T3))))
        (local.set $outOff (i32.add (local.get $outOff) (local.get $len)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $next))))

  ;; fft.js `_realTransform4`'s later steps (step = 2^width / 4, / 16, … ≥ 2).
  (func $passes (param $out i32) (param $table i32) (param $csize i32) (param $width i32)
    (local $step i32) (local $len i32) (local $half i32) (local $quarter i32) (local $hquarter i32)
    (local $outOff i32) (local $i i32) (local $k i32) (local $base i32) (local $q i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $sa i32) (local $sb i32)
    (local $MBr v128) (local $MBi v128) (local $MCr v128) (local $MCi v128) (local $MDr v128)
    (local $MDi v128) (local $Ar v128) (local $Ai v128)
    (local $T0r v128) (local $T0i v128) (local $T1r v128) (local $T1i v128)
    (local $T2r v128) (local $T2i v128) (local $T3r v128) (local $T3i v128)
    (local $at i32) (local $tr v128) (local $ti v128) (local $r v128) (local $im v128)
    (local.set $step (i32.shr_u (i32.shl (i32.const 1) (local.get $width)) (i32.const 2)))
    (block $steps_done
      (loop $steps
        (br_if $steps_done (i32.lt_u (local.get $step) (i32.const 2)))
        (local.set $len (i32.shl (i32.div_u (local.get $csize) (local.get $step)) (i32.const 1)))
        (local.set $half (i32.shr_u (local.get $len) (i32.const 1)))
        (local.set $quarter (i32.shr_u (local.get $half) (i32.const 1)))
        (local.set $hquarter (i32.shr_u (local.get $quarter) (i32.const 1)))
        (local.set $q (i32.shl (local.get $quarter) (i32.const 4)))
        (local.set $outOff (i32.const 0))
        (block $offsets_done
          (loop $offsets
            (br_if $offsets_done (i32.ge_u (local.get $outOff) (local.get $csize)))
            (local.set $base (i32.add (local.get $out) (i32.shl (local.get $outOff) (i32.const 4))))
            (local.set $i (i32.const 0))
            (local.set $k (i32.const 0))
            (block $butterflies_done
              (loop $butterflies
                (br_if $butterflies_done (i32.gt_u (local.get $i) (local.get $hquarter)))
                (local.set $a (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 4))))
                (local.set $sa (i32.add (local.get $base)
                  (i32.shl (i32.sub (local.get $quarter) (local.get $i)) (i32.const 4))))
                (local.set $sb (i32.add (local.get $base)
                  (i32.shl (i32.sub (local.get $half) (local.get $i)) (i32.const 4))))
                (block $butterfly_done
                  (local.set $b (i32.add (local.get $a) (local.get $q)))
                  (local.set $c (i32.add (local.get $b) (local.get $q)))
                  (local.set $d (i32.add (local.get $c) (local.get $q)))
                  (local.set $Ar (v128.load (local.get $a)))
                  (local.set $Ai (v128.load offset=16 (local.get $a)))
                  ;; M = X·(table[k·m], table[k·m + 1]) for X = B, C, D (m = 1, 2, 3):
                  ;; r·tr − i·ti, r·ti + i·tr.
                  (local.set $at (i32.add (local.get $table) (i32.shl (local.get $k) (i32.const 3))))
                  (local.set $tr (v128.load64_splat (local.get $at)))
                  (local.set $ti (v128.load64_splat offset=8 (local.get $at)))
                  (local.set $r (v128.load (local.get $b)))
                  (local.set $im (v128.load offset=16 (local.get $b)))
                  (local.set $MBr (f64x2.sub
                    (f64x2.mul (local.get $r) (local.get $tr))
                    (f64x2.mul (local.get $im) (local.get $ti))))
                  (local.set $MBi (f64x2.add
                    (f64x2.mul (local.get $r) (local.get $ti))
                    (f64x2.mul (local.get $im) (local.get $tr))))
                  (local.set $at (i32.add (local.get $table) (i32.shl (local.get $k) (i32.const 4))))
                  (local.set $tr (v128.load64_splat (local.get $at)))
                  (local.set $ti (v128.load64_splat offset=8 (local.get $at)))
                  (local.set $r (v128.load (local.get $c)))
                  (local.set $im (v128.load offset=16 (local.get $c)))
                  (local.set $MCr (f64x2.sub
                    (f64x2.mul (local.get $r) (local.get $tr))
                    (f64x2.mul (local.get $im) (local.get $ti))))
                  (local.set $MCi (f64x2.add
                    (f64x2.mul (local.get $r) (local.get $ti))
                    (f64x2.mul (local.get $im) (local.get $tr))))
                  (local.set $at (i32.add (local.get $table) (i32.mul (local.get $k) (i32.const 24))))
                  (local.set $tr (v128.load64_splat (local.get $at)))
                  (local.set $ti (v128.load64_splat offset=8 (local.get $at)))
                  (local.set $r (v128.load (local.get $d)))
                  (local.set $im (v128.load offset=16 (local.get $d)))
                  (local.set $MDr (f64x2.sub
                    (f64x2.mul (local.get $r) (local.get $tr))
                    (f64x2.mul (local.get $im) (local.get $ti))))
                  (local.set $MDi (f64x2.add
                    (f64x2.mul (local.get $r) (local.get $ti))
                    (f64x2.mul (local.get $im) (local.get $tr))))
                  (local.set $T0r (f64x2.add (local.get $Ar) (local.get $MCr)))
                  (local.set $T0i (f64x2.add (local.get $Ai) (local.get $MCi)))
                  (local.set $T1r (f64x2.sub (local.get $Ar) (local.get $MCr)))
                  (local.set $T1i (f64x2.sub (local.get $Ai) (local.get $MCi)))
                  (local.set $T2r (f64x2.add (local.get $MBr) (local.get $MDr)))
                  (local.set $T2i (f64x2.add (local.get $MBi) (local.get $MDi)))
                  (local.set $T3r (f64x2.sub (local.get $MBr) (local.get $MDr)))
                  (local.set $T3i (f64x2.sub (local.get $MBi) (local.get $MDi)))
                  (v128.store (local.get $a) (f64x2.add (local.get $T0r) (local.get $T2r)))
                  (v128.store offset=16 (local.get $a) (f64x2.add (local.get $T0i) (local.get $T2i)))
                  (v128.store (local.get $b) (f64x2.add (local.get $T1r) (local.get $T3i)))
                  (v128.store offset=16 (local.get $b) (f64x2.sub (local.get $T1i) (local.get $T3r)))
                  (if (i32.eqz (local.get $i))
                    (then
                      (v128.store (local.get $c) (f64x2.sub (local.get $T0r) (local.get $T2r)))
                      (v128.store offset=16 (local.get $c) (f64x2.sub (local.get $T0i) (local.get $T2i)))
                      (br $butterfly_done)))
                  (if (i32.eq (local.get $i) (local.get $hquarter)) (then (br $butterfly_done)))
                  ;; fft.js's flipped case:
                  ;; SFA = (T1r + −T3i, −T1i + −T3r), SFB = (T0r + −T2r, −T0i − −T2i).
                  (v128.store (local.get $sa) (f64x2.add (local.get $T1r) (f64x2.neg (local.get $T3i))))
                  (v128.store offset=16 (local.get $sa)
                    (f64x2.add (f64x2.neg (local.get $T1i)) (f64x2.neg (local.get $T3r))))
                  (v128.store (local.get $sb) (f64x2.add (local.get $T0r) (f64x2.neg (local.get $T2r))))
                  (v128.store offset=16 (local.get $sb)
                    (f64x2.sub (f64x2.neg (local.get $T0i)) (f64x2.neg (local.get $T2i)))))
                (local.set $i (i32.add (local.get $i) (i32.const 2)))
                (local.set $k (i32.add (local.get $k) (local.get $step)))
                (br $butterflies)))
            (local.set $outOff (i32.add (local.get $outOff) (local.get $len)))
            (br $offsets)))
        (local.set $step (i32.shr_u (local.get $step) (i32.const 2)))
        (br $steps))))

  ;; power[k] = fround(fround(√(re² + im²))²) for bins k < bins, lane 0 to `$a`, lane 1 to `$b` (float32).
  (func $power (param $out i32) (param $bins i32) (param $a i32) (param $b i32)
    (local $k i32) (local $at i32) (local $re v128) (local $im v128) (local $amplitude v128)
    (local $power v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $bins)))
        (local.set $at (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 5))))
        (local.set $re (v128.load (local.get $at)))
        (local.set $im (v128.load offset=16 (local.get $at)))
        (local.set $amplitude (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero (f64x2.sqrt
          (f64x2.add (f64x2.mul (local.get $re) (local.get $re)) (f64x2.mul (local.get $im) (local.get $im)))))))
        (local.set $power (f32x4.demote_f64x2_zero (f64x2.mul (local.get $amplitude) (local.get $amplitude))))
        (f32.store (i32.add (local.get $a) (i32.shl (local.get $k) (i32.const 2)))
          (f32x4.extract_lane 0 (local.get $power)))
        (f32.store (i32.add (local.get $b) (i32.shl (local.get $k) (i32.const 2)))
          (f32x4.extract_lane 1 (local.get $power)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next))))

  ;; The power spectra of `frames` frames of `size` samples, `hop` apart from the start of `signal`
  ;; (float32, long enough for every frame), windowed by `window` (float32): frame f's size / 2 bins go to
  ;; power + f·size·2 bytes. `table` and `bitrev` are fft.js's for this size; `data` (size elements) and
  ;; `out` (2·size elements) are scratch.
  (func (export "spectra") (param $signal i32) (param $window i32) (param $hop i32) (param $frames i32)
    (param $size i32) (param $width i32) (param $table i32) (param $bitrev i32) (param $data i32)
    (param $out i32) (param $power i32)
    (local $f i32) (local $second i32) (local $bins i32) (local $csize i32)
    (local.set $bins (i32.shr_u (local.get $size) (i32.const 1)))
    (local.set $csize (i32.shl (local.get $size) (i32.const 1)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $f) (local.get $frames)))
        ;; An odd last frame rides in both lanes (lane 1 writes the same values again).
        (local.set $second (select
          (i32.add (local.get $f) (i32.const 1))
          (local.get $f)
          (i32.lt_u (i32.add (local.get $f) (i32.const 1)) (local.get $frames))))
        (call $window (local.get $signal) (local.get $window)
          (i32.mul (local.get $f) (local.get $hop)) (i32.mul (local.get $second) (local.get $hop))
          (local.get $size) (local.get $data))
        (call $first (local.get $data) (local.get $out) (local.get $bitrev) (local.get $csize)
          (local.get $width))
        (call $passes (local.get $out) (local.get $table) (local.get $csize) (local.get $width))
        (call $power (local.get $out) (local.get $bins)
          (i32.add (local.get $power) (i32.shl (i32.mul (local.get $f) (local.get $bins)) (i32.const 2)))
          (i32.add (local.get $power) (i32.shl (i32.mul (local.get $second) (local.get $bins)) (i32.const 2))))
        (local.set $f (i32.add (local.get $f) (i32.const 2)))
        (br $next))))
  ;; The folded input of frames f and g (lanes): for n < half, with mirror = bands − 1 − n,
  ;; folded[n] = x[n] + x[mirror] and folded[half + n] = x[n] − x[mirror] (x[n] alone at an odd middle).
  (func $fold (param $a i32) (param $b i32) (param $bands i32) (param $half i32) (param $folded i32)
    (local $n i32) (local $mirror i32) (local $x v128) (local $y v128) (local $at i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $n) (local.get $half)))
        (local.set $mirror (i32.sub (i32.sub (local.get $bands) (i32.const 1)) (local.get $n)))
        (local.set $x (f64x2.replace_lane 1
          (v128.load64_splat (i32.add (local.get $a) (i32.shl (local.get $n) (i32.const 3))))
          (f64.load (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 3))))))
        (local.set $at (i32.add (local.get $folded) (i32.shl (local.get $n) (i32.const 4))))
        (if (i32.eq (local.get $mirror) (local.get $n))
          (then
            (v128.store (local.get $at) (local.get $x))
            (v128.store (i32.add (local.get $at) (i32.shl (local.get $half) (i32.const 4))) (local.get $x)))
          (else
            (local.set $y (f64x2.replace_lane 1
              (v128.load64_splat (i32.add (local.get $a) (i32.shl (local.get $mirror) (i32.const 3))))
              (f64.load (i32.add (local.get $b) (i32.shl (local.get $mirror) (i32.const 3))))))
            (v128.store (local.get $at) (f64x2.add (local.get $x) (local.get $y)))
            (v128.store (i32.add (local.get $at) (i32.shl (local.get $half) (i32.const 4)))
              (f64x2.sub (local.get $x) (local.get $y)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next))))

  ;; MFCCs of `frames` frames: frame f's `bands` log-mel values (float64) at logMel + f·bands·8 bytes,
  ;; its `coefficients` MFCCs (float32) to out + f·stride·4 bytes. Coefficient k is the running sum
  ;; Σ_n folded[(k mod 2)·half + n]·matrix[k·half + n] from n = 0, as the JavaScript loop it replaced.
  (func (export "dct") (param $logMel i32) (param $frames i32) (param $bands i32) (param $half i32)
    (param $coefficients i32) (param $matrix i32) (param $folded i32) (param $out i32) (param $stride i32)
    (local $f i32) (local $second i32) (local $k i32) (local $n i32) (local $source i32) (local $row i32)
    (local $acc v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $f) (local.get $frames)))
        (local.set $second (select
          (i32.add (local.get $f) (i32.const 1))
          (local.get $f)
          (i32.lt_u (i32.add (local.get $f) (i32.const 1)) (local.get $frames))))
        (call $fold
          (i32.add (local.get $logMel) (i32.shl (i32.mul (local.get $f) (local.get $bands)) (i32.const 3)))
          (i32.add (local.get $logMel) (i32.shl (i32.mul (local.get $second) (local.get $bands)) (i32.const 3)))
          (local.get $bands) (local.get $half) (local.get $folded))
        (local.set $k (i32.const 0))
        (block $coefficients_done
          (loop $coefficient
            (br_if $coefficients_done (i32.ge_u (local.get $k) (local.get $coefficients)))
            (local.set $source (i32.add (local.get $folded)
              (i32.shl (i32.mul (i32.and (local.get $k) (i32.const 1)) (local.get $half)) (i32.const 4))))
            (local.set $row (i32.add (local.get $matrix)
              (i32.shl (i32.mul (local.get $k) (local.get $half)) (i32.const 3))))
            (local.set $acc (v128.const f64x2 0 0))
            (local.set $n (i32.const 0))
            (block $sum_done
              (loop $sum
                (br_if $sum_done (i32.ge_u (local.get $n) (local.get $half)))
                (local.set $acc (f64x2.add (local.get $acc)
                  (f64x2.mul
                    (v128.load (i32.add (local.get $source) (i32.shl (local.get $n) (i32.const 4))))
                    (v128.load64_splat (i32.add (local.get $row) (i32.shl (local.get $n) (i32.const 3)))))))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))
                (br $sum)))
            (f32.store
              (i32.add (local.get $out)
                (i32.shl (i32.add (i32.mul (local.get $f) (local.get $stride)) (local.get $k)) (i32.const 2)))
              (f32.demote_f64 (f64x2.extract_lane 0 (local.get $acc))))
            (f32.store
              (i32.add (local.get $out)
                (i32.shl (i32.add (i32.mul (local.get $second) (local.get $stride)) (local.get $k)) (i32.const 2)))
              (f32.demote_f64 (f64x2.extract_lane 1 (local.get $acc))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $coefficient)))
        (local.set $f (i32.add (local.get $f) (i32.const 2)))
        (br $next)))))
