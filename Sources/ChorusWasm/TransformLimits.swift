/// What one call of a transform may use (docs/wasm.md, "Limits").
public struct TransformLimits: Sendable, Equatable {
    /// Fuel per message (about one unit per WebAssembly instruction), over `chorus_alloc`,
    /// `chorus_transform` and `chorus_output` together.
    public var fuel: UInt64
    /// The most pages (64 KiB) the module's memory may have, at instantiation and after any `memory.grow`.
    public var maxMemoryPages: Int
    /// The most bytes of replacement data or error text a call may hand back.
    public var maxOutputBytes: Int

    /// By default 10 million fuel, 16 pages (1 MiB) and 64 KiB of output.
    public init(fuel: UInt64 = 10_000_000, maxMemoryPages: Int = 16, maxOutputBytes: Int = 65536) {
        self.fuel = fuel
        self.maxMemoryPages = maxMemoryPages
        self.maxOutputBytes = maxOutputBytes
    }
}
