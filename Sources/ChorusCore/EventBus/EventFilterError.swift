/// Why a filter expression was rejected.
///
/// The cases stay private so new ones can be added without breaking clients; `description` says
/// what is wrong and where, short enough for an HTTP error body or a configuration error.
public struct EventFilterError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case syntax(column: Int, reason: String)
        case tooLong(maxLength: Int)
        case tooDeep(column: Int, maxDepth: Int)
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// The expression does not follow the grammar; `column` counts characters from 1.
    static func syntax(_ reason: String, column: Int) -> EventFilterError {
        EventFilterError(.syntax(column: column, reason: reason))
    }

    /// The expression is longer than `maxLength` bytes of UTF-8.
    static func tooLong(maxLength: Int) -> EventFilterError {
        EventFilterError(.tooLong(maxLength: maxLength))
    }

    /// Parentheses and `not` are nested more than `maxDepth` levels deep.
    static func tooDeep(column: Int, maxDepth: Int) -> EventFilterError {
        EventFilterError(.tooDeep(column: column, maxDepth: maxDepth))
    }

    /// The column (counting characters from 1) where the problem was found; nil when it concerns
    /// the whole expression.
    public var column: Int? {
        switch self.base {
        case .syntax(let column, _), .tooDeep(let column, _):
            column
        case .tooLong:
            nil
        }
    }

    /// What is wrong, and where.
    public var description: String {
        switch self.base {
        case .syntax(let column, let reason):
            "invalid filter at column \(column): \(reason)"
        case .tooLong(let maxLength):
            "filter longer than \(maxLength) bytes"
        case .tooDeep(let column, let maxDepth):
            "invalid filter at column \(column): nested deeper than \(maxDepth) levels"
        }
    }
}
