/// A condition on an event's `data`, such as `customer.tier == "gold" and total >= 100`, that
/// decides whether a consumer gets the event (docs/event-bus.md, "Filters").
///
/// The expression is parsed once, when the consumer is configured; `matches(data:)` then runs
/// without allocating beyond what reading the data needs. Comparisons follow RFC 9535
/// (JSONPath) filter semantics: values of different types are never equal nor ordered, numbers
/// compare numerically, strings by Unicode scalar values, and a path that leads nowhere equals
/// nothing but another path that leads nowhere.
public struct EventFilter: Sendable, CustomStringConvertible {
    /// The longest expression accepted, in bytes of UTF-8: filters live in configuration and URLs.
    public static let maxLength = 4096
    /// The deepest nesting accepted of parentheses and `not`, and of arrays and objects inside a
    /// literal, so evaluation never recurses far.
    public static let maxDepth = 32

    /// The expression as written.
    public let source: String
    let expression: Expression

    /// Parses `source`, throwing an error that names the column of the first problem.
    public init(parsing source: String) throws(EventFilterError) {
        self.source = source
        self.expression = try EventFilterParser.parse(source)
    }

    /// The expression as written.
    public var description: String {
        self.source
    }

    /// Whether `data` (an event's data, of any JSON kind) satisfies the expression.
    public func matches(data: RawJSON) -> Bool {
        self.expression.evaluate(on: FilterInput(data))
    }
}

extension EventFilter {
    /// A parsed expression. `and` and `or` chains are flat lists, so a long chain is not deep.
    indirect enum Expression: Sendable, Equatable {
        case all([Expression])
        case any([Expression])
        case not(Expression)
        case compare(Operand, ComparisonOperator, Operand)
        /// `element in collection`: the collection is an array holding a value equal to the element.
        case contains(element: Operand, collection: Operand)
        case exists(path: [String])
    }

    /// A side of a comparison: a path into the data, or a JSON literal.
    enum Operand: Sendable, Equatable {
        /// Object keys or array indexes, from the top of the data.
        case path([String])
        case literal(RawJSON)
    }

    /// `==`, `!=`, `<`, `<=`, `>`, `>=`.
    enum ComparisonOperator: String, Sendable, CaseIterable {
        case equal = "=="
        case notEqual = "!="
        case less = "<"
        case lessOrEqual = "<="
        case greater = ">"
        case greaterOrEqual = ">="
    }
}
