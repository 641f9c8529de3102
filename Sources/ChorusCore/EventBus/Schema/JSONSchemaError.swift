/// Why a schema was refused when it was compiled.
///
/// The cases stay private so new ones can be added without breaking clients; `description` is
/// short enough to send back in an HTTP error.
public struct JSONSchemaError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case invalidJSON(JSONError)
        case tooLarge(maxBytes: Int)
        case unsupportedKeyword(String, location: String)
        case invalidKeyword(String, location: String, reason: String)
        case notASchema(location: String)
        case nestedTooDeep(maxDepth: Int, location: String)
        case tooManySubschemas(maximum: Int)
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    static func invalidJSON(_ error: JSONError) -> JSONSchemaError {
        JSONSchemaError(.invalidJSON(error))
    }

    static func tooLarge(maxBytes: Int) -> JSONSchemaError {
        JSONSchemaError(.tooLarge(maxBytes: maxBytes))
    }

    static func unsupportedKeyword(_ keyword: String, at location: String) -> JSONSchemaError {
        JSONSchemaError(.unsupportedKeyword(keyword, location: location))
    }

    static func invalidKeyword(_ keyword: String, at location: String, _ reason: String) -> JSONSchemaError {
        JSONSchemaError(.invalidKeyword(keyword, location: location, reason: reason))
    }

    static func notASchema(at location: String) -> JSONSchemaError {
        JSONSchemaError(.notASchema(location: location))
    }

    static func nestedTooDeep(maxDepth: Int, at location: String) -> JSONSchemaError {
        JSONSchemaError(.nestedTooDeep(maxDepth: maxDepth, location: location))
    }

    static func tooManySubschemas(maximum: Int) -> JSONSchemaError {
        JSONSchemaError(.tooManySubschemas(maximum: maximum))
    }

    /// The keyword the schema was refused for, when one was: an unsupported keyword, or one
    /// whose value is not valid.
    public var keyword: String? {
        switch self.base {
        case .unsupportedKeyword(let keyword, _), .invalidKeyword(let keyword, _, _):
            keyword
        default:
            nil
        }
    }

    /// What is wrong, for an error message.
    public var description: String {
        switch self.base {
        case .invalidJSON(let error):
            "the schema is not valid JSON: \(error)"
        case .tooLarge(let maxBytes):
            "the schema is larger than \(maxBytes) bytes"
        case .unsupportedKeyword(let keyword, let location):
            "unsupported keyword \"\(keyword)\" \(Self.place(location)); supported: \(SchemaCompiler.supportedKeywords)"
        case .invalidKeyword(let keyword, let location, let reason):
            "invalid \"\(keyword)\" \(Self.place(location)): \(reason)"
        case .notASchema(let location):
            "\(Self.place(location)): a schema must be an object or a boolean"
        case .nestedTooDeep(let maxDepth, let location):
            "subschemas nested deeper than \(maxDepth) levels \(Self.place(location))"
        case .tooManySubschemas(let maximum):
            "the schema has more than \(maximum) subschemas"
        }
    }

    private static func place(_ location: String) -> String {
        location.isEmpty ? "at the schema's root" : "at \(location)"
    }
}
