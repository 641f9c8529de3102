public import NIOCore

/// A JSON Schema (draft 2020-12) compiled once, to validate many values.
///
/// Only the keywords listed in docs/event-bus.md ("Schemas") are supported; a schema using any
/// other keyword that could affect validation (`$ref`, `anyOf`, `multipleOf`…) is refused when
/// compiled, naming the keyword, rather than half-enforced. Annotations (`title`, `format`…) are
/// accepted and never fail a value. Schemas are user input, so their size is bounded by `Limits`.
public struct JSONSchema: Sendable {
    /// Bounds on a schema, which is user input.
    public struct Limits: Sendable, Hashable {
        /// The largest schema document, in bytes, that `init(parsing:limits:)` accepts.
        public var maxBytes = 65_536
        /// How deeply the schema document's objects and arrays may nest (JSON levels).
        public var maxJSONDepth = 64
        /// How deeply subschemas may nest below the root (`properties`, `items`, `allOf`…).
        public var maxDepth = 32
        /// How many subschemas (the root included) one schema may have.
        public var maxSubschemas = 1_000
        /// The longest `pattern` or `patternProperties` key, in UTF-8 bytes.
        public var maxPatternLength = 1_024

        /// The defaults above.
        public init() {}
    }

    private let root: SchemaNode

    /// Compiles the schema held in `buffer`'s readable bytes (JSON text).
    public init(parsing buffer: ByteBuffer, limits: Limits = Limits()) throws(JSONSchemaError) {
        guard buffer.readableBytes <= limits.maxBytes else {
            throw .tooLarge(maxBytes: limits.maxBytes)
        }
        let document: JSONValue
        do {
            document = try JSONValue(parsing: buffer, maxDepth: limits.maxJSONDepth)
        } catch {
            throw .invalidJSON(error)
        }
        try self.init(document, limits: limits)
    }

    /// Compiles `schema`, an object or a boolean. `limits.maxBytes` does not apply to a tree.
    public init(_ schema: JSONValue, limits: Limits = Limits()) throws(JSONSchemaError) {
        var compiler = SchemaCompiler(limits: limits)
        self.root = try compiler.compile(schema, at: "", depth: 0)
    }

    /// The ways `value` fails the schema, at most `maxViolations` of them; empty when it is valid.
    ///
    /// The order is stable: each subschema's keywords as written, its member and item keywords
    /// (`properties`… and `prefixItems`/`items`) last.
    public func validate(_ value: JSONValue, maxViolations: Int = 16) -> [SchemaViolation] {
        var validator = SchemaValidator(limit: maxViolations)
        validator.validate(value, against: self.root)
        return validator.violations
    }

    /// Whether `value` matches the schema; stops at the first violation.
    public func isValid(_ value: JSONValue) -> Bool {
        self.validate(value, maxViolations: 1).isEmpty
    }
}
