;; Example kernels for the browser loader (clients/js/chorus-wasm.js; docs/wasm.md, "Browser
;; loader"). They follow the loader's bytes ABI: `alloc(len)` returns where the caller writes
;; `len` input bytes, and a kernel `f(ptr, len)` works on them, writing any output in place from
;; `ptr` and returning its length (or a value), negative for bad input.
;;
;;   base64_decode: standard or URL-safe base64 (padding optional) to bytes; -1 for a character
;;                  outside the alphabet or a length no base64 text has.
;;   adler32:       the Adler-32 checksum of the bytes (RFC 1950), as an unsigned 32-bit value.
;;
;; Build: wat2wasm kernels.wat -o kernels.wasm
(module
  (memory (export "memory") 1)

  ;; Where input goes: after the 256-byte decoding table.
  (global $input i32 (i32.const 1024))

  ;; Value of each byte in base64 ('+' and '-' are 62, '/' and '_' 63); 0xff: not base64.
  (data (i32.const 0)
    "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff"
    "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\3e\ff\3e\ff\3f\34\35\36\37\38\39\3a\3b\3c\3d\ff\ff\ff\ff\ff\ff"
    "\ff\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10\11\12\13\14\15\16\17\18\19\ff\ff\ff\ff\3f"
    "\ff\1a\1b\1c\1d\1e\1f\20\21\22\23\24\25\26\27\28\29\2a\2b\2c\2d\2e\2f\30\31\32\33\ff\ff\ff\ff\ff"
    "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff"
    "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff"
    "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff"
    "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff")

  ;; One input area, reused by every call: grows the memory until `len` bytes fit after $input.
  (func (export "alloc") (param $len i32) (result i32)
    (local $pages i32)
    (local.set $pages
      (i32.shr_u (i32.add (i32.add (global.get $input) (local.get $len)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (return (i32.const -1))))))
    (global.get $input))

  (func (export "base64_decode") (param $ptr i32) (param $len i32) (result i32)
    (local $end i32) (local $in i32) (local $out i32) (local $acc i32) (local $bits i32) (local $value i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    ;; Up to two '=' of padding end the text.
    (block $unpadded
      (loop $strip
        (br_if $unpadded (i32.le_u (local.get $end) (local.get $ptr)))
        (br_if $unpadded (i32.ne (i32.load8_u (i32.sub (local.get $end) (i32.const 1))) (i32.const 61)))
        (br_if $unpadded (i32.ge_u (i32.sub (i32.add (local.get $ptr) (local.get $len)) (local.get $end)) (i32.const 2)))
        (local.set $end (i32.sub (local.get $end) (i32.const 1)))
        (br $strip)))
    ;; One leftover character carries 6 bits: no byte ends there.
    (if (i32.eq (i32.and (i32.sub (local.get $end) (local.get $ptr)) (i32.const 3)) (i32.const 1))
      (then (return (i32.const -1))))
    (local.set $in (local.get $ptr))
    (local.set $out (local.get $ptr))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $value (i32.load8_u (i32.load8_u (local.get $in))))
        (if (i32.eq (local.get $value) (i32.const 255)) (then (return (i32.const -1))))
        (local.set $acc (i32.or (i32.shl (local.get $acc) (i32.const 6)) (local.get $value)))
        (local.set $bits (i32.add (local.get $bits) (i32.const 6)))
        (if (i32.ge_u (local.get $bits) (i32.const 8))
          (then
            (local.set $bits (i32.sub (local.get $bits) (i32.const 8)))
            ;; Writing never overtakes reading: 4 characters in, 3 bytes out.
            (i32.store8 (local.get $out) (i32.shr_u (local.get $acc) (local.get $bits)))
            (local.set $out (i32.add (local.get $out) (i32.const 1)))
            (local.set $acc (i32.and (local.get $acc) (i32.const 0xff)))))
        (local.set $in (i32.add (local.get $in) (i32.const 1)))
        (br $next)))
    (i32.sub (local.get $out) (local.get $ptr)))

  (func (export "adler32") (param $ptr i32) (param $len i32) (result i32)
    (local $a i32) (local $b i32) (local $end i32) (local $block i32)
    (local.set $a (i32.const 1))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        ;; 5552 bytes is the most that cannot overflow b before the modulo (zlib's NMAX).
        (local.set $block (i32.add (local.get $ptr) (i32.const 5552)))
        (if (i32.gt_u (local.get $block) (local.get $end)) (then (local.set $block (local.get $end))))
        (loop $bytes
          (local.set $a (i32.add (local.get $a) (i32.load8_u (local.get $ptr))))
          (local.set $b (i32.add (local.get $b) (local.get $a)))
          (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
          (br_if $bytes (i32.lt_u (local.get $ptr) (local.get $block))))
        (local.set $a (i32.rem_u (local.get $a) (i32.const 65521)))
        (local.set $b (i32.rem_u (local.get $b) (i32.const 65521)))
        (br $blocks)))
    (i32.or (i32.shl (local.get $b) (i32.const 16)) (local.get $a)))
)
