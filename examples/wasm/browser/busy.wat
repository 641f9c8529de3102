;; A kernel that keeps its thread busy for a wall-clock time, for showing that the loader's
;; worker pool runs tasks side by side (Tests/e2e/test_wasm_browser.py). `busy(ms)` spins
;; until the imported clock has moved `ms` milliseconds and returns how many times it looked.
;; The clock comes from the pool's imports module (busy-imports.js).
;;
;; Build: wat2wasm busy.wat -o busy.wasm
(module
  (import "env" "now" (func $now (result f64)))
  (func (export "busy") (param $ms f64) (result i32)
    (local $until f64) (local $polls i32)
    (local.set $until (f64.add (call $now) (local.get $ms)))
    (loop $spin
      (local.set $polls (i32.add (local.get $polls) (i32.const 1)))
      (br_if $spin (f64.lt (call $now) (local.get $until))))
    (local.get $polls))
)
