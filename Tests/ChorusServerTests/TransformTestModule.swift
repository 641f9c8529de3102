/// Transform modules for tests, in WebAssembly text: the ABI's exports around a body of
/// `chorus_transform` (parameters 0–5: topic, event and data pointers and lengths).
enum TransformTestModule {
    /// A module whose `chorus_transform` is `body`, with no output (`chorus_output` is 0).
    static func wat(transform body: String) -> String {
        """
        (module
          (memory (export "memory") 1)
          (func (export "chorus_abi_version") (result i32) (i32.const 1))
          (func (export "chorus_alloc") (param i32) (result i32) (i32.const 1024))
          (func (export "chorus_output") (result i64) (i64.const 0))
          (func (export "chorus_transform") (param i32 i32 i32 i32 i32 i32) (result i32)
        \(body)))
        """
    }
}
