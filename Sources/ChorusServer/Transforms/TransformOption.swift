public import ChorusWasm

/// The options that bound one call of a transform, the same for a namespace's transform and an
/// event consumer's: their names, their ranges, and where each goes in ``TransformLimits``.
public enum TransformOption: String, CaseIterable, Sendable {
    /// Fuel per call.
    case fuel = "transform_fuel"
    /// Most 64 KiB pages of the module's memory.
    case maxPages = "transform_max_pages"
    /// Most bytes of replacement data or error text.
    case maxOutput = "transform_max_output"

    /// The values it takes.
    public var range: ClosedRange<Int> {
        switch self {
        case .fuel: 1...Int.max
        case .maxPages: 1...65536
        case .maxOutput: 1...Int(Int32.max)
        }
    }

    /// Sets `value` (within ``range``) in `limits`.
    public func apply(_ value: Int, to limits: inout TransformLimits) {
        switch self {
        case .fuel: limits.fuel = UInt64(value)
        case .maxPages: limits.maxMemoryPages = value
        case .maxOutput: limits.maxOutputBytes = value
        }
    }

    /// Its value in `limits`, when it differs from the default (what a definition shows).
    public func nonDefault(in limits: TransformLimits) -> Int? {
        let defaults = TransformLimits()
        switch self {
        case .fuel: return limits.fuel == defaults.fuel ? nil : Int(clamping: limits.fuel)
        case .maxPages: return limits.maxMemoryPages == defaults.maxMemoryPages ? nil : limits.maxMemoryPages
        case .maxOutput: return limits.maxOutputBytes == defaults.maxOutputBytes ? nil : limits.maxOutputBytes
        }
    }
}
