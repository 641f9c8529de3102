;; Profanity filter: replaces every listed word with "***" (ASCII letters, any case), so
;; {"text": "darn it"} becomes {"text": "*** it"}. Keeps messages without a listed word as they are.
;; Chorus transform ABI version 1 (docs/wasm.md). Edit the word list in the data segment:
;; each word is a length byte and the word in lower case letters, at least 4 of them (the output
;; is then never longer than the input); a 0 length ends the list, within 240 bytes (at most 48
;; words). Where two words start at one place, the first listed wins.
;;
;; How it stays cheap per byte (WasmKit interprets, so every instruction counts):
;; - the scan only reads: a message with no listed word is kept without copying a byte;
;; - a table of the words' first letters (both cases) rejects most bytes with one lookup, and
;;   the scan tests four bytes per turn of its loop;
;; - a byte that may start a word is checked against 64-bit masks of the words whose first,
;;   second and third letters the next three bytes are: only a word in all three is compared;
;; - the text between replacements is moved with memory.copy, not byte by byte.
;; The start function builds the tables from the list at instantiation.
(module
  (memory (export "memory") 1)
  (global $out_ptr (mut i32) (i32.const 0))
  (global $out_len (mut i32) (i32.const 0))
  ;; Memory: the word list at 16; the first-letter table (one byte per byte value) at 256; each
  ;; word's address (i32 per word) at 512; the masks of the 1st, 2nd and 3rd letters (i64 per byte
  ;; value) at 1024, 3072 and 5120; the input from 8192, the output after it.
  (data (i32.const 16) "\04darn\04heck\04frak\05drats\00")

  (func (export "chorus_abi_version") (result i32) (i32.const 1))

  ;; Sets bit $bit in the mask of $c and of its other case, in the table at $table.
  (func $mark (param $table i32) (param $c i32) (param $bit i64)
    (local $at i32)
    (local.set $at (i32.add (local.get $table) (i32.shl (local.get $c) (i32.const 3))))
    (i64.store (local.get $at) (i64.or (i64.load (local.get $at)) (local.get $bit)))
    (local.set $at (i32.add (local.get $table) (i32.shl (i32.xor (local.get $c) (i32.const 32)) (i32.const 3))))
    (i64.store (local.get $at) (i64.or (i64.load (local.get $at)) (local.get $bit))))

  (func $init
    (local $w i32) (local $i i32) (local $bit i64)
    (local.set $w (i32.const 16))
    (block $end
      (loop $next
        (br_if $end (i32.eqz (i32.load8_u (local.get $w))))
        (br_if $end (i32.ge_u (local.get $i) (i32.const 64)))
        (local.set $bit (i64.shl (i64.const 1) (i64.extend_i32_u (local.get $i))))
        (i32.store8 offset=256 (i32.load8_u offset=1 (local.get $w)) (i32.const 1))
        (i32.store8 offset=256 (i32.xor (i32.load8_u offset=1 (local.get $w)) (i32.const 32)) (i32.const 1))
        (i32.store offset=512 (i32.shl (local.get $i) (i32.const 2)) (local.get $w))
        (call $mark (i32.const 1024) (i32.load8_u offset=1 (local.get $w)) (local.get $bit))
        (call $mark (i32.const 3072) (i32.load8_u offset=2 (local.get $w)) (local.get $bit))
        (call $mark (i32.const 5120) (i32.load8_u offset=3 (local.get $w)) (local.get $bit))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $w (i32.add (i32.add (local.get $w) (i32.const 1)) (i32.load8_u (local.get $w))))
        (br $next))))
  (start $init)

  ;; The input (topic, event, data) goes at 8192 and the output right after it: grow the memory
  ;; to hold twice the input (and the few bytes the scan reads past its end).
  (func (export "chorus_alloc") (param $len i32) (result i32)
    (local $needed i32)
    (local.set $needed (i32.add (i32.const 8200) (i32.shl (local.get $len) (i32.const 1))))
    (if (i32.gt_u (local.get $needed) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq
              (memory.grow (i32.shr_u
                (i32.add (i32.sub (local.get $needed) (i32.shl (memory.size) (i32.const 16))) (i32.const 65535))
                (i32.const 16)))
              (i32.const -1))
          (then unreachable))))
    (i32.const 8192))

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
        (if (i32.ne (local.get $c) (i32.load8_u offset=1 (i32.add (local.get $w) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $len))

  ;; The length of the first word of mask $m that starts at $p before $end, or 0.
  (func $word_at (param $p i32) (param $end i32) (param $m i64) (result i32)
    (local $n i32)
    (block $none
      (loop $next
        (br_if $none (i64.eqz (local.get $m)))
        (local.set $n (call $matches (local.get $p) (local.get $end)
          (i32.load offset=512 (i32.shl (i32.wrap_i64 (i64.ctz (local.get $m))) (i32.const 2)))))
        (if (local.get $n) (then (return (local.get $n))))
        ;; the next word of the mask
        (local.set $m (i64.and (local.get $m) (i64.sub (local.get $m) (i64.const 1))))
        (br $next)))
    (i32.const 0))

  (func (export "chorus_transform")
    (param $tp i32) (param $tl i32) (param $ep i32) (param $el i32) (param $dp i32) (param $dl i32)
    (result i32)
    (local $p i32) (local $end i32) (local $last i32) (local $o i32) (local $n i32) (local $m i64)
    (local.set $p (local.get $dp))
    (local.set $last (local.get $dp))
    (local.set $end (i32.add (local.get $dp) (local.get $dl)))
    (local.set $o (local.get $end))
    (block $done
      (loop $scan
        (block $check
          ;; Four bytes per turn of $fast (its own loop, so a turn is charged only its own
          ;; fuel); a byte that may start a word leaves with $p on it. Bytes read past $end are
          ;; in the memory chorus_alloc reserved; $check stops at $end.
          (block $at3
            (block $at2
              (block $at1
                (block $at0
                  (loop $fast
                    (br_if $at0 (i32.load8_u offset=256 (i32.load8_u (local.get $p))))
                    (br_if $at1 (i32.load8_u offset=256 (i32.load8_u offset=1 (local.get $p))))
                    (br_if $at2 (i32.load8_u offset=256 (i32.load8_u offset=2 (local.get $p))))
                    (br_if $at3 (i32.load8_u offset=256 (i32.load8_u offset=3 (local.get $p))))
                    (local.set $p (i32.add (local.get $p) (i32.const 4)))
                    (br_if $fast (i32.lt_u (local.get $p) (local.get $end))))
                  (br $done))
                (br $check))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $check))
            (local.set $p (i32.add (local.get $p) (i32.const 2)))
            (br $check))
          (local.set $p (i32.add (local.get $p) (i32.const 3))))
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ;; Most candidates end here, on the masks, without a call.
        ;; $m: the words whose first three letters the three bytes at $p are
        (local.set $m
          (i64.and
            (i64.and
              (i64.load offset=1024 (i32.shl (i32.load8_u (local.get $p)) (i32.const 3)))
              (i64.load offset=3072 (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 3))))
            (i64.load offset=5120 (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 3)))))
        (local.set $n (i32.const 0))
        (if (i64.ne (local.get $m) (i64.const 0))
          (then (local.set $n (call $word_at (local.get $p) (local.get $end) (local.get $m)))))
        (if (local.get $n)
          (then
            ;; the text since the last word, then "***"
            (memory.copy (local.get $o) (local.get $last) (i32.sub (local.get $p) (local.get $last)))
            (local.set $o (i32.add (local.get $o) (i32.sub (local.get $p) (local.get $last))))
            (i32.store16 (local.get $o) (i32.const 0x2a2a))
            (i32.store8 offset=2 (local.get $o) (i32.const 42))
            (local.set $o (i32.add (local.get $o) (i32.const 3)))
            (local.set $p (i32.add (local.get $p) (local.get $n)))
            (local.set $last (local.get $p)))
          (else (local.set $p (i32.add (local.get $p) (i32.const 1)))))
        (br_if $scan (i32.lt_u (local.get $p) (local.get $end)))))
    ;; no word: keep the message as it is (0)
    (if (i32.eq (local.get $o) (local.get $end)) (then (return (i32.const 0))))
    (memory.copy (local.get $o) (local.get $last) (i32.sub (local.get $end) (local.get $last)))
    (global.set $out_ptr (local.get $end))
    (global.set $out_len (i32.sub (i32.add (local.get $o) (i32.sub (local.get $end) (local.get $last))) (local.get $end)))
    ;; replaced: 2
    (i32.const 2))
)
