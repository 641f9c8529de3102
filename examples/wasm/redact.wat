;; Field redactor: masks the value of every listed field, at any depth, with "***", so
;; {"name": "Ann", "email": "ann@example.com", "card": 4111111111111111} becomes
;; {"name": "Ann", "email":"***", "card":"***"}. Keeps messages without a listed field as they are.
;; Chorus transform ABI version 1 (docs/wasm.md). Edit the field list in the data segment: each
;; name is a length byte and the name (as it appears in the JSON, unescaped); a 0 length ends the list.
(module
  (memory (export "memory") 1)
  (global $out_ptr (mut i32) (i32.const 0))
  (global $out_len (mut i32) (i32.const 0))
  (global $o (mut i32) (i32.const 0))
  (data (i32.const 16) "\05email\04card\08password\00")
  (data (i32.const 64) "\"***\"")

  (func (export "chorus_abi_version") (result i32) (i32.const 1))

  ;; Input at 4096, output after it: a masked number ("***" for 1) can grow 4 bytes, so reserve
  ;; six times the input.
  (func (export "chorus_alloc") (param $len i32) (result i32)
    (local $needed i32)
    (local.set $needed (i32.add (i32.const 4096) (i32.mul (local.get $len) (i32.const 6))))
    (if (i32.gt_u (local.get $needed) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq
              (memory.grow (i32.shr_u
                (i32.add (i32.sub (local.get $needed) (i32.shl (memory.size) (i32.const 16))) (i32.const 65535))
                (i32.const 16)))
              (i32.const -1))
          (then unreachable))))
    (i32.const 4096))

  (func (export "chorus_output") (result i64)
    (i64.or
      (i64.shl (i64.extend_i32_u (global.get $out_ptr)) (i64.const 32))
      (i64.extend_i32_u (global.get $out_len))))

  (func $put (param $from i32) (param $len i32)
    (memory.copy (global.get $o) (local.get $from) (local.get $len))
    (global.set $o (i32.add (global.get $o) (local.get $len))))

  ;; The index just past the string whose opening quote is at $p (escapes skipped), at most $end.
  (func $string_end (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br_if $done (i32.eq (local.get $c) (i32.const 34)))
        (if (i32.eq (local.get $c) (i32.const 92))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))
        (br $next)))
    (select (local.get $end) (local.get $p) (i32.gt_u (local.get $p) (local.get $end))))

  ;; The index of the first byte at or after $p that is not JSON whitespace, at most $end.
  (func $skip_space (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.eqz
          (i32.or
            (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 9)))
            (i32.or (i32.eq (local.get $c) (i32.const 10)) (i32.eq (local.get $c) (i32.const 13))))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; Whether the $len bytes at $p are a listed field name.
  (func $listed (param $p i32) (param $len i32) (result i32)
    (local $w i32) (local $i i32)
    (local.set $w (i32.const 16))
    (block $none
      (loop $word
        (br_if $none (i32.eqz (i32.load8_u (local.get $w))))
        (if (i32.eq (i32.load8_u (local.get $w)) (local.get $len))
          (then
            (local.set $i (i32.const 0))
            (block $differs
              (loop $byte
                (if (i32.ge_u (local.get $i) (local.get $len)) (then (return (i32.const 1))))
                (br_if $differs (i32.ne
                  (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                  (i32.load8_u (i32.add (i32.add (local.get $w) (i32.const 1)) (local.get $i)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $byte)))))
        (local.set $w (i32.add (i32.add (local.get $w) (i32.const 1)) (i32.load8_u (local.get $w))))
        (br $word)))
    (i32.const 0))

  (func (export "chorus_transform")
    (param $tp i32) (param $tl i32) (param $ep i32) (param $el i32) (param $dp i32) (param $dl i32)
    (result i32)
    (local $p i32) (local $end i32) (local $q i32) (local $r i32) (local $c i32) (local $found i32)
    (local.set $p (local.get $dp))
    (local.set $end (i32.add (local.get $dp) (local.get $dl)))
    (global.set $out_ptr (local.get $end))
    (global.set $o (local.get $end))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 34))
          (then
            (call $put (local.get $p) (i32.const 1))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $next)))
        ;; a string: copy it; when it is a listed key, mask its value
        (local.set $q (call $string_end (local.get $p) (local.get $end)))
        (call $put (local.get $p) (i32.sub (local.get $q) (local.get $p)))
        (local.set $r (call $skip_space (local.get $q) (local.get $end)))
        (if (i32.and
              (i32.lt_u (local.get $r) (local.get $end))
              (i32.and
                (i32.eq (i32.load8_u (local.get $r)) (i32.const 58))
                (call $listed (i32.add (local.get $p) (i32.const 1)) (i32.sub (i32.sub (local.get $q) (local.get $p)) (i32.const 2)))))
          (then
            (call $put (local.get $q) (i32.add (i32.sub (local.get $r) (local.get $q)) (i32.const 1)))
            (local.set $r (call $skip_space (i32.add (local.get $r) (i32.const 1)) (local.get $end)))
            (if (i32.and (i32.lt_u (local.get $r) (local.get $end)) (i32.eq (i32.load8_u (local.get $r)) (i32.const 34)))
              (then (local.set $r (call $string_end (local.get $r) (local.get $end))))
              (else
                ;; a number or literal: up to the next , } ] or whitespace
                (block $value_end
                  (loop $value
                    (br_if $value_end (i32.ge_u (local.get $r) (local.get $end)))
                    (local.set $c (i32.load8_u (local.get $r)))
                    (br_if $value_end (i32.or
                      (i32.or (i32.eq (local.get $c) (i32.const 44)) (i32.eq (local.get $c) (i32.const 125)))
                      (i32.or (i32.eq (local.get $c) (i32.const 93)) (i32.le_u (local.get $c) (i32.const 32)))))
                    (local.set $r (i32.add (local.get $r) (i32.const 1)))
                    (br $value)))))
            (call $put (i32.const 64) (i32.const 5))
            (local.set $found (i32.const 1))
            (local.set $p (local.get $r)))
          (else (local.set $p (local.get $q))))
        (br $next)))
    (global.set $out_len (i32.sub (global.get $o) (global.get $out_ptr)))
    (select (i32.const 2) (i32.const 0) (local.get $found)))
)
