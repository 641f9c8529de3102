/// A call that did not complete: the publish is refused with `transform_failed` and `reason`.
public struct TransformFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Why the call failed, as a metric label: the kinds are fixed.
    public struct Kind: RawRepresentable, Hashable, Sendable {
        /// The label (`trap`, `fuel`, `memory`, `bad_output`).
        public let rawValue: String
        /// A kind by its label.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The module trapped (unreachable, out-of-bounds access, division by zero, …).
        public static let trap = Kind(rawValue: "trap")
        /// The call used up its fuel.
        public static let fuel = Kind(rawValue: "fuel")
        /// The module tried to grow its memory past the page limit.
        public static let memory = Kind(rawValue: "memory")
        /// The module returned an unknown status, an output outside its memory or over the limit,
        /// or data that is not JSON.
        public static let badOutput = Kind(rawValue: "bad_output")
    }

    /// What kind of failure.
    public var kind: Kind
    /// A short, human-readable reason.
    public var reason: String

    /// A failure of `kind`, saying `reason`.
    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    /// The reason.
    public var description: String { self.reason }
}

/// A module that cannot serve as a transform: not WebAssembly, not valid WAT, or not the ABI.
public struct TransformLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, naming the export or limit at fault.
    public var message: String

    /// An error saying `message`.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { self.message }
}
