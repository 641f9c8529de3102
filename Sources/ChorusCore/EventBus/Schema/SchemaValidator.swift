/// Walks a value against compiled `SchemaNode`s, collecting violations up to a limit.
///
/// The path to the current value is kept as tokens and only turned into a JSON Pointer when a
/// violation is recorded, so a valid value costs no string building.
struct SchemaValidator {
    private(set) var violations: [SchemaViolation] = []
    private let limit: Int
    private var path: [JSONPointer.Token] = []

    init(limit: Int) {
        self.limit = limit
    }

    private var isFull: Bool {
        self.violations.count >= self.limit
    }

    mutating func validate(_ value: JSONValue, against node: SchemaNode) {
        guard !self.isFull else {
            return
        }
        if node.allowsNothing {
            self.fail(at: node.location, self.nothingAllowedMessage)
            return
        }
        for check in node.checks {
            guard !self.isFull else {
                return
            }
            self.apply(check, to: value)
        }
    }

    private mutating func apply(_ check: SchemaCheck, to value: JSONValue) {
        let location = check.location
        switch (check.rule, value) {
        case (.type(let types), _):
            if !types.allows(value) {
                self.fail(at: location, "expected \(types.listed), got \(SchemaTypes.name(of: value))")
            }
        case (.const(let expected), _):
            if value != expected {
                self.fail(at: location, "must equal the schema's const value")
            }
        case (.oneOfValues(let allowed), _):
            if !allowed.contains(value) {
                self.fail(at: location, "must be one of the \(allowed.count) values of the schema's enum")
            }
        case (.minimum(let bound, let exclusive), .number(let number)):
            if exclusive ? number <= bound : number < bound {
                self.fail(at: location, "must be \(exclusive ? "greater than" : "at least") \(bound), got \(number)")
            }
        case (.maximum(let bound, let exclusive), .number(let number)):
            if exclusive ? number >= bound : number > bound {
                self.fail(at: location, "must be \(exclusive ? "less than" : "at most") \(bound), got \(number)")
            }
        case (.minLength(let minimum), .string(let string)):
            let length = string.unicodeScalars.count
            if length < minimum {
                self.fail(at: location, "must be at least \(minimum) characters long, got \(length)")
            }
        case (.maxLength(let maximum), .string(let string)):
            let length = string.unicodeScalars.count
            if length > maximum {
                self.fail(at: location, "must be at most \(maximum) characters long, got \(length)")
            }
        case (.minItems(let minimum), .array(let elements)):
            if elements.count < minimum {
                self.fail(at: location, "must have at least \(minimum) items, got \(elements.count)")
            }
        case (.maxItems(let maximum), .array(let elements)):
            if elements.count > maximum {
                self.fail(at: location, "must have at most \(maximum) items, got \(elements.count)")
            }
        case (.pattern(let pattern), .string(let string)):
            if !pattern.matches(string) {
                self.fail(at: location, "must match the pattern \(Self.quoted(pattern.source))")
            }
        case (.required(let names), .object(let object)):
            for name in names where object[name] == nil && !self.isFull {
                self.fail(at: location, "missing required property \(Self.quoted(name))")
            }
        case (.members(let properties, let patterns, let additional), .object(let object)):
            // Keys and lookups rather than `members`, which would build an array per object.
            for key in object.keys {
                let member = object[key]!
                self.path.append(.key(key))
                var matched = false
                if let subschema = properties[key] {
                    matched = true
                    self.validate(member, against: subschema)
                }
                for (pattern, subschema) in patterns where pattern.matches(key) {
                    matched = true
                    self.validate(member, against: subschema)
                }
                if !matched, let additional {
                    self.validate(member, against: additional)
                }
                self.path.removeLast()
            }
        case (.items(let prefix, let rest), .array(let elements)):
            for (index, element) in elements.enumerated() {
                guard let subschema = index < prefix.count ? prefix[index] : rest else {
                    break
                }
                self.path.append(.index(index))
                self.validate(element, against: subschema)
                self.path.removeLast()
            }
        case (.allOf(let subschemas), _):
            for subschema in subschemas {
                self.validate(value, against: subschema)
            }
        default:
            // The keyword does not apply to this type of value.
            break
        }
    }

    /// What the `false` schema says about the current value, by where the value is.
    private var nothingAllowedMessage: String {
        switch self.path.last {
        case .key(let key): "property \(Self.quoted(key)) is not allowed"
        case .index(let index): "item \(index) is not allowed"
        case nil: "no value is allowed (the schema is false)"
        }
    }

    private mutating func fail(at keywordLocation: String, _ message: String) {
        self.violations.append(
            SchemaViolation(instanceLocation: JSONPointer.string(self.path), keywordLocation: keywordLocation, message: message)
        )
    }

    /// `text` in double quotes, for messages; quotes and backslashes inside are escaped.
    private static func quoted(_ text: String) -> String {
        "\"" + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }
}
