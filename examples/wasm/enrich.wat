;; JSON enricher: adds the data's length in bytes and the topic to an object, so {"a": 1}
;; published to chat:room becomes {"len":8,"topic":"chat:room","a": 1}. Data that is not an
;; object is kept as it is. Topic names need no JSON escaping (letters, digits, _-:@=.).
;; Chorus transform ABI version 1 (docs/wasm.md).
(module
  (memory (export "memory") 1)
  (global $out_ptr (mut i32) (i32.const 0))
  (global $out_len (mut i32) (i32.const 0))
  (global $o (mut i32) (i32.const 0))
  (data (i32.const 16) "{\"len\":")
  (data (i32.const 32) ",\"topic\":\"")
  (data (i32.const 48) "\",")

  (func (export "chorus_abi_version") (result i32) (i32.const 1))

  ;; Input at 4096, output after it: the input twice plus room for the added fields.
  (func (export "chorus_alloc") (param $len i32) (result i32)
    (local $needed i32)
    (local.set $needed (i32.add (i32.const 4352) (i32.shl (local.get $len) (i32.const 1))))
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

  ;; Appends $len bytes from $from to the output.
  (func $put (param $from i32) (param $len i32)
    (memory.copy (global.get $o) (local.get $from) (local.get $len))
    (global.set $o (i32.add (global.get $o) (local.get $len))))

  ;; Appends $n in decimal.
  (func $put_number (param $n i32)
    (local $digits i32) (local $rest i32)
    (local.set $rest (local.get $n))
    (local.set $digits (i32.const 1))
    (block $done
      (loop $count
        (local.set $rest (i32.div_u (local.get $rest) (i32.const 10)))
        (br_if $done (i32.eqz (local.get $rest)))
        (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
        (br $count)))
    (global.set $o (i32.add (global.get $o) (local.get $digits)))
    (local.set $rest (global.get $o))
    (loop $digit
      (local.set $rest (i32.sub (local.get $rest) (i32.const 1)))
      (i32.store8 (local.get $rest) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digit (local.get $n))))

  ;; Whether the byte at $p is JSON whitespace.
  (func $space (param $p i32) (result i32)
    (local $c i32)
    (local.set $c (i32.load8_u (local.get $p)))
    (i32.or
      (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 9)))
      (i32.or (i32.eq (local.get $c) (i32.const 10)) (i32.eq (local.get $c) (i32.const 13)))))

  (func (export "chorus_transform")
    (param $tp i32) (param $tl i32) (param $ep i32) (param $el i32) (param $dp i32) (param $dl i32)
    (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (local.get $dp))
    (local.set $end (i32.add (local.get $dp) (local.get $dl)))
    (block $found
      (loop $skip
        (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const 0))))
        (br_if $found (i32.eqz (call $space (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $skip)))
    (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 123)) (then (return (i32.const 0))))
    (global.set $out_ptr (local.get $end))
    (global.set $o (local.get $end))
    (call $put (i32.const 16) (i32.const 7))
    (call $put_number (local.get $dl))
    (call $put (i32.const 32) (i32.const 10))
    (call $put (local.get $tp) (local.get $tl))
    (call $put (i32.const 48) (i32.const 1))
    ;; the rest of the object, after its "{"; a "," first unless the object is empty
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (block $first
      (loop $skip
        (br_if $first (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $first (i32.eqz (call $space (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $skip)))
    (if (i32.and (i32.lt_u (local.get $p) (local.get $end)) (i32.ne (i32.load8_u (local.get $p)) (i32.const 125)))
      (then (call $put (i32.const 49) (i32.const 1))))
    (call $put (local.get $p) (i32.sub (local.get $end) (local.get $p)))
    (global.set $out_len (i32.sub (global.get $o) (global.get $out_ptr)))
    (i32.const 2))
)
