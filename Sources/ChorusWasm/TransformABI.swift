/// The contract between the hub and a transform module (docs/wasm.md, "ABI"), version 1.
///
/// The module imports nothing and exports:
/// - `memory`: its linear memory, where the hub writes the input and reads the output;
/// - `chorus_abi_version() -> i32`: returns 1;
/// - `chorus_alloc(len: i32) -> i32`: a region of `len` bytes for the input, called once per
///   message (the module may hand out the same region every time);
/// - `chorus_transform(topic_ptr, topic_len, event_ptr, event_len, data_ptr, data_len: i32) -> i32`:
///   a ``Status`` code;
/// - `chorus_output() -> i64`: after `replace` or `error`, where the new data or the error text
///   lies: pointer in the high 32 bits, length in the low 32 bits.
public enum TransformABI {
    /// The ABI version this hub speaks; `chorus_abi_version` must return it.
    public static let version: Int32 = 1

    /// What `chorus_transform` returns.
    public enum Status: Int32, Sendable, CaseIterable {
        /// Deliver the message as it is.
        case keep = 0
        /// Deliver nothing; the publisher learns the message was dropped.
        case drop = 1
        /// Deliver the data at `chorus_output` instead (JSON text).
        case replace = 2
        /// Refuse the publish with the text at `chorus_output` as the reason.
        case error = 3
    }

    static let memoryExport = "memory"
    static let versionExport = "chorus_abi_version"
    static let allocExport = "chorus_alloc"
    static let transformExport = "chorus_transform"
    static let outputExport = "chorus_output"

    /// The exported functions and their signatures.
    static let functions: [(name: String, parameters: Int, result: String)] = [
        (versionExport, 0, "i32"),
        (allocExport, 1, "i32"),
        (transformExport, 6, "i32"),
        (outputExport, 0, "i64"),
    ]

    /// A WebAssembly page: 64 KiB.
    public static let pageSize = 65536
}
