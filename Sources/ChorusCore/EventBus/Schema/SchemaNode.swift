/// One compiled subschema: the checks its keywords make, in the order they were written.
final class SchemaNode: Sendable {
    /// Where the subschema is in the schema document (RFC 6901).
    let location: String
    /// Whether this is the `false` schema, which no value matches.
    let allowsNothing: Bool
    let checks: [SchemaCheck]

    init(location: String, allowsNothing: Bool = false, checks: [SchemaCheck] = []) {
        self.location = location
        self.allowsNothing = allowsNothing
        self.checks = checks
    }
}

/// One keyword's check, with where that keyword is in the schema (RFC 6901).
struct SchemaCheck: Sendable {
    enum Rule: Sendable {
        case type(SchemaTypes)
        case const(JSONValue)
        case oneOfValues([JSONValue])
        case minimum(JSONNumber, exclusive: Bool)
        case maximum(JSONNumber, exclusive: Bool)
        /// `minLength`/`maxLength` (strings, in code points) and `minItems`/`maxItems` (arrays).
        case minLength(Int)
        case maxLength(Int)
        case minItems(Int)
        case maxItems(Int)
        case pattern(SchemaPattern)
        case required([String])
        /// `properties`, `patternProperties` and `additionalProperties` together, because
        /// `additionalProperties` applies to the members the other two do not match.
        case members(properties: [String: SchemaNode], patterns: [(SchemaPattern, SchemaNode)], additional: SchemaNode?)
        /// `prefixItems` and `items` together, because `items` applies after the prefix.
        case items(prefix: [SchemaNode], rest: SchemaNode?)
        case allOf([SchemaNode])
    }

    let rule: Rule
    let location: String
}

/// The JSON types a `type` keyword allows.
struct SchemaTypes: OptionSet, Sendable {
    let rawValue: UInt8

    static let null = SchemaTypes(rawValue: 1 << 0)
    static let boolean = SchemaTypes(rawValue: 1 << 1)
    static let object = SchemaTypes(rawValue: 1 << 2)
    static let array = SchemaTypes(rawValue: 1 << 3)
    static let number = SchemaTypes(rawValue: 1 << 4)
    static let string = SchemaTypes(rawValue: 1 << 5)
    static let integer = SchemaTypes(rawValue: 1 << 6)

    /// The names `type` accepts, in the order messages list them.
    static let names: [(String, SchemaTypes)] = [
        ("null", .null), ("boolean", .boolean), ("object", .object), ("array", .array),
        ("number", .number), ("string", .string), ("integer", .integer),
    ]

    /// Whether `value` is of one of these types; an integral number is an integer (`1.0` too).
    func allows(_ value: JSONValue) -> Bool {
        switch value {
        case .null: self.contains(.null)
        case .bool: self.contains(.boolean)
        case .object: self.contains(.object)
        case .array: self.contains(.array)
        case .string: self.contains(.string)
        case .number(let number): self.contains(.number) || (self.contains(.integer) && number.isInteger)
        }
    }

    /// `string`, or `string or null` for several.
    var listed: String {
        Self.names.filter { self.contains($0.1) }.map(\.0).joined(separator: " or ")
    }

    /// The name of `value`'s type, `integer` for an integral number.
    static func name(of value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .object: "object"
        case .array: "array"
        case .string: "string"
        case .number(let number): number.isInteger ? "integer" : "number"
        }
    }
}
