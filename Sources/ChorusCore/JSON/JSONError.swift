/// Why a JSON document was rejected.
///
/// The cases stay private so new ones can be added without breaking clients; `description`
/// is short enough to send back to a client in an error frame.
public struct JSONError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case syntax(offset: Int, reason: String)
        case nestingTooDeep(maxDepth: Int)
        case notAnObject
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// The document is not valid JSON; `offset` counts bytes from the start of the input.
    static func syntax(_ reason: String, at offset: Int) -> JSONError {
        JSONError(.syntax(offset: offset, reason: reason))
    }

    /// Objects and arrays are nested more than `maxDepth` levels deep.
    static func nestingTooDeep(maxDepth: Int) -> JSONError {
        JSONError(.nestingTooDeep(maxDepth: maxDepth))
    }

    /// The document (or the value asked for) is valid JSON but not an object.
    static let notAnObject = JSONError(.notAnObject)

    /// What is wrong, for an error message.
    public var description: String {
        switch self.base {
        case .syntax(let offset, let reason):
            "invalid JSON at byte \(offset): \(reason)"
        case .nestingTooDeep(let maxDepth):
            "JSON nested deeper than \(maxDepth) levels"
        case .notAnObject:
            "expected a JSON object"
        }
    }
}
