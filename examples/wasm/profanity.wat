;; Profanity filter: replaces every listed word with "***" (ASCII letters, any case), so
;; {"text": "darn it"} becomes {"text": "*** it"}. Keeps messages without a listed word as they are.
;; Chorus transform ABI version 1 (docs/wasm.md). Edit the word list in the data segment:
;; each word is a length byte and the word in lower case, at least 4 letters (the output is then
;; never longer than the input); a 0 length ends the list, within 240 bytes. At instantiation a
;; table at 256 marks the words' first letters (both cases), so most bytes cost one lookup.
(module
  (memory (export "memory") 1)
  (global $out_ptr (mut i32) (i32.const 0))
  (global $out_len (mut i32) (i32.const 0))
  (data (i32.const 16) "\04darn\04heck\04frak\05drats\00")

  (func (export "chorus_abi_version") (result i32) (i32.const 1))

  (func $init
    (local $w i32) (local $c i32)
    (local.set $w (i32.const 16))
    (block $end
      (loop $next
        (br_if $end (i32.eqz (i32.load8_u (local.get $w))))
        (local.set $c (i32.load8_u offset=1 (local.get $w)))
        (i32.store8 (i32.add (i32.const 256) (local.get $c)) (i32.const 1))
        (i32.store8 (i32.add (i32.const 256) (i32.xor (local.get $c) (i32.const 32))) (i32.const 1))
        (local.set $w (i32.add (i32.add (local.get $w) (i32.const 1)) (i32.load8_u (local.get $w))))
        (br $next))))
  (start $init)

  ;; The input (topic, event, data) goes at 4096 and the output right after it: grow the memory
  ;; to hold twice the input.
  (func (export "chorus_alloc") (param $len i32) (result i32)
    (local $needed i32)
    (local.set $needed (i32.add (i32.const 4096) (i32.shl (local.get $len) (i32.const 1))))
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

  ;; The length of the word at $w (length byte first) when it starts at $p before $end, else 0.
  (func $matches (param $p i32) (param $end i32) (param $w i32) (result i32)
    (local $len i32) (local $i i32) (local $c i32)
    (local.set $len (i32.load8_u (local.get $w)))
    (if (i32.gt_u (i32.add (local.get $p) (local.get $len)) (local.get $end))
      (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        ;; A-Z to a-z
        (if (i32.lt_u (i32.sub (local.get $c) (i32.const 65)) (i32.const 26))
          (then (local.set $c (i32.or (local.get $c) (i32.const 32)))))
        (if (i32.ne (local.get $c) (i32.load8_u (i32.add (i32.add (local.get $w) (i32.const 1)) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $len))

  ;; The length of the listed word starting at $p, or 0.
  (func $word_at (param $p i32) (param $end i32) (result i32)
    (local $w i32) (local $n i32)
    (local.set $w (i32.const 16))
    (block $none
      (loop $next
        (br_if $none (i32.eqz (i32.load8_u (local.get $w))))
        (local.set $n (call $matches (local.get $p) (local.get $end) (local.get $w)))
        (if (local.get $n) (then (return (local.get $n))))
        (local.set $w (i32.add (i32.add (local.get $w) (i32.const 1)) (i32.load8_u (local.get $w))))
        (br $next)))
    (i32.const 0))

  (func (export "chorus_transform")
    (param $tp i32) (param $tl i32) (param $ep i32) (param $el i32) (param $dp i32) (param $dl i32)
    (result i32)
    (local $p i32) (local $end i32) (local $o i32) (local $n i32) (local $found i32)
    (local.set $p (local.get $dp))
    (local.set $end (i32.add (local.get $dp) (local.get $dl)))
    (local.set $o (local.get $end))
    (global.set $out_ptr (local.get $end))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $n (i32.const 0))
        (if (i32.load8_u (i32.add (i32.const 256) (i32.load8_u (local.get $p))))
          (then (local.set $n (call $word_at (local.get $p) (local.get $end)))))
        (if (local.get $n)
          (then
            (i32.store8 (local.get $o) (i32.const 42))
            (i32.store8 offset=1 (local.get $o) (i32.const 42))
            (i32.store8 offset=2 (local.get $o) (i32.const 42))
            (local.set $o (i32.add (local.get $o) (i32.const 3)))
            (local.set $p (i32.add (local.get $p) (local.get $n)))
            (local.set $found (i32.const 1)))
          (else
            (i32.store8 (local.get $o) (i32.load8_u (local.get $p)))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))))
        (br $next)))
    (global.set $out_len (i32.sub (local.get $o) (global.get $out_ptr)))
    ;; 2 (replace) when a word was found, else 0 (keep)
    (select (i32.const 2) (i32.const 0) (local.get $found)))
)
