/// Turns a schema document into `SchemaNode`s once, checking every keyword's value, so that
/// validation never meets a malformed keyword and a keyword it cannot honour is refused up front.
struct SchemaCompiler {
    /// The keywords that validate, for error messages.
    static let supportedKeywords = """
        type, const, enum, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, \
        maxLength, pattern, required, properties, patternProperties, additionalProperties, \
        prefixItems, items, minItems, maxItems, allOf, and annotations (\(Self.annotations.sorted().joined(separator: ", ")))
        """

    /// Keywords that never affect validation, accepted and ignored.
    static let annotations: Set<String> = [
        "$schema", "$id", "$anchor", "$comment", "title", "description", "default", "examples",
        "format", "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding",
    ]

    /// The `$schema` values accepted: this draft's meta-schema, with or without an empty fragment.
    static let draft = "https://json-schema.org/draft/2020-12/schema"

    private let limits: JSONSchema.Limits
    private var subschemaCount = 0

    init(limits: JSONSchema.Limits) {
        self.limits = limits
    }

    /// Compiles the subschema `value` found at `location`, `depth` subschemas below the root (0).
    mutating func compile(_ value: JSONValue, at location: String, depth: Int) throws(JSONSchemaError) -> SchemaNode {
        self.subschemaCount += 1
        guard self.subschemaCount <= self.limits.maxSubschemas else {
            throw .tooManySubschemas(maximum: self.limits.maxSubschemas)
        }
        guard depth <= self.limits.maxDepth else {
            throw .nestedTooDeep(maxDepth: self.limits.maxDepth, at: location)
        }
        switch value {
        case .bool(let allowsAll):
            return SchemaNode(location: location, allowsNothing: !allowsAll)
        case .object(let keywords):
            return SchemaNode(location: location, checks: try self.compileKeywords(keywords, at: location, depth: depth))
        default:
            throw .notASchema(at: location)
        }
    }

    private mutating func compileKeywords(_ keywords: JSONValue.Object, at location: String, depth: Int) throws(JSONSchemaError) -> [SchemaCheck] {
        var checks: [SchemaCheck] = []
        var properties: [String: SchemaNode]?
        var patterns: [(SchemaPattern, SchemaNode)]?
        var additional: SchemaNode?
        var prefix: [SchemaNode]?
        var rest: SchemaNode?
        for (keyword, value) in keywords.members {
            let keywordLocation = JSONPointer.appending(.key(keyword), to: location)
            func invalid(_ reason: String) -> JSONSchemaError {
                .invalidKeyword(keyword, at: keywordLocation, reason)
            }
            func check(_ rule: SchemaCheck.Rule) {
                checks.append(SchemaCheck(rule: rule, location: keywordLocation))
            }
            switch keyword {
            case "type":
                check(.type(try Self.types(value, invalid)))
            case "const":
                check(.const(value))
            case "enum":
                guard case .array(let values) = value else {
                    throw invalid("must be an array")
                }
                check(.oneOfValues(values))
            case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
                guard case .number(let bound) = value else {
                    throw invalid("must be a number")
                }
                let exclusive = keyword.hasPrefix("exclusive")
                check(keyword.hasSuffix("inimum") ? .minimum(bound, exclusive: exclusive) : .maximum(bound, exclusive: exclusive))
            case "minLength":
                check(.minLength(try Self.count(value, invalid)))
            case "maxLength":
                check(.maxLength(try Self.count(value, invalid)))
            case "minItems":
                check(.minItems(try Self.count(value, invalid)))
            case "maxItems":
                check(.maxItems(try Self.count(value, invalid)))
            case "pattern":
                check(.pattern(try self.pattern(value, invalid)))
            case "required":
                guard case .array(let names) = value else {
                    throw invalid("must be an array of strings")
                }
                var required: [String] = []
                for name in names {
                    guard case .string(let name) = name, !required.contains(name) else {
                        throw invalid("must be an array of distinct strings")
                    }
                    required.append(name)
                }
                check(.required(required))
            case "properties":
                var compiled: [String: SchemaNode] = [:]
                for (name, subschema) in try Self.object(value, invalid).members {
                    compiled[name] = try self.compile(subschema, at: JSONPointer.appending(.key(name), to: keywordLocation), depth: depth + 1)
                }
                properties = compiled
            case "patternProperties":
                var compiled: [(SchemaPattern, SchemaNode)] = []
                for (source, subschema) in try Self.object(value, invalid).members {
                    let pattern = try self.pattern(.string(source), invalid)
                    compiled.append((pattern, try self.compile(subschema, at: JSONPointer.appending(.key(source), to: keywordLocation), depth: depth + 1)))
                }
                patterns = compiled
            case "additionalProperties":
                additional = try self.compile(value, at: keywordLocation, depth: depth + 1)
            case "prefixItems":
                prefix = try self.compileList(value, at: keywordLocation, depth: depth, invalid)
            case "items":
                guard case .array = value else {
                    rest = try self.compile(value, at: keywordLocation, depth: depth + 1)
                    break
                }
                throw invalid("must be a schema (an array of schemas is draft 2019-09's form: use prefixItems)")
            case "allOf":
                check(.allOf(try self.compileList(value, at: keywordLocation, depth: depth, invalid)))
            case "$schema":
                guard case .string(let uri) = value, uri == Self.draft || uri == Self.draft + "#" else {
                    throw invalid("only draft 2020-12 is supported (\(Self.draft))")
                }
            case _ where Self.annotations.contains(keyword):
                break
            default:
                throw .unsupportedKeyword(keyword, at: keywordLocation)
            }
        }
        if properties != nil || patterns != nil || additional != nil {
            let first = ["properties", "patternProperties", "additionalProperties"].first { keywords[$0] != nil }!
            checks.append(
                SchemaCheck(
                    rule: .members(properties: properties ?? [:], patterns: patterns ?? [], additional: additional),
                    location: JSONPointer.appending(.key(first), to: location)
                )
            )
        }
        if prefix != nil || rest != nil {
            let first = keywords["prefixItems"] != nil ? "prefixItems" : "items"
            checks.append(
                SchemaCheck(rule: .items(prefix: prefix ?? [], rest: rest), location: JSONPointer.appending(.key(first), to: location))
            )
        }
        return checks
    }

    /// A non-empty array of subschemas (`prefixItems`, `allOf`).
    private mutating func compileList(
        _ value: JSONValue,
        at location: String,
        depth: Int,
        _ invalid: (String) -> JSONSchemaError
    ) throws(JSONSchemaError) -> [SchemaNode] {
        guard case .array(let subschemas) = value, !subschemas.isEmpty else {
            throw invalid("must be a non-empty array of schemas")
        }
        var compiled: [SchemaNode] = []
        for (index, subschema) in subschemas.enumerated() {
            compiled.append(try self.compile(subschema, at: JSONPointer.appending(.index(index), to: location), depth: depth + 1))
        }
        return compiled
    }

    private func pattern(_ value: JSONValue, _ invalid: (String) -> JSONSchemaError) throws(JSONSchemaError) -> SchemaPattern {
        guard case .string(let source) = value else {
            throw invalid("must be a string")
        }
        guard source.utf8.count <= self.limits.maxPatternLength else {
            throw invalid("the pattern is longer than \(self.limits.maxPatternLength) bytes")
        }
        do {
            return try SchemaPattern(source)
        } catch {
            throw invalid("not a regular expression this hub can run: \(error.reason)")
        }
    }

    private static func types(_ value: JSONValue, _ invalid: (String) -> JSONSchemaError) throws(JSONSchemaError) -> SchemaTypes {
        let names: [JSONValue]
        switch value {
        case .string: names = [value]
        case .array(let array) where !array.isEmpty: names = array
        default: throw invalid("must be a type name or a non-empty array of them")
        }
        var types: SchemaTypes = []
        for name in names {
            guard case .string(let name) = name, let type = SchemaTypes.names.first(where: { $0.0 == name })?.1 else {
                throw invalid("type names are \(SchemaTypes.names.map(\.0).joined(separator: ", "))")
            }
            guard !types.contains(type) else {
                throw invalid("\"\(name)\" is listed twice")
            }
            types.insert(type)
        }
        return types
    }

    /// A non-negative integer (`2.0` counts), capped at `Int.max`.
    private static func count(_ value: JSONValue, _ invalid: (String) -> JSONSchemaError) throws(JSONSchemaError) -> Int {
        guard case .number(let number) = value, number.isInteger, number.double >= 0 else {
            throw invalid("must be a non-negative integer")
        }
        return number.int64.map { Int($0) } ?? .max
    }

    private static func object(_ value: JSONValue, _ invalid: (String) -> JSONSchemaError) throws(JSONSchemaError) -> JSONValue.Object {
        guard case .object(let object) = value else {
            throw invalid("must be an object of schemas")
        }
        return object
    }
}
