import NIOCore

/// A recursive-descent parser for `EventFilter` expressions:
///
///     expression  := conjunction ("or" conjunction)*
///     conjunction := negation ("and" negation)*
///     negation    := "not" negation | primary
///     primary     := "(" expression ")" | "exists" "(" path ")"
///                  | operand ("==" | "!=" | "<" | "<=" | ">" | ">=" | "in") operand
///     operand     := path | literal
///
/// Literals are JSON values (strings, numbers, `true`, `false`, `null`, arrays, objects), checked
/// by the same validator as every other JSON the hub reads.
struct EventFilterParser {
    private let bytes: [UInt8]
    private var offset = 0
    private var depth = 0

    private init(_ source: String) {
        self.bytes = Array(source.utf8)
    }

    static func parse(_ source: String) throws(EventFilterError) -> EventFilter.Expression {
        guard source.utf8.count <= EventFilter.maxLength else {
            throw .tooLong(maxLength: EventFilter.maxLength)
        }
        var parser = EventFilterParser(source)
        let expression = try parser.parseExpression()
        let (token, start) = try parser.next()
        guard case .end = token else {
            throw parser.error("unexpected \(token) after a complete expression", at: start)
        }
        return expression
    }

    // MARK: Grammar

    private mutating func parseExpression() throws(EventFilterError) -> EventFilter.Expression {
        var terms = [try self.parseConjunction()]
        while try self.skip(keyword: "or") != nil {
            terms.append(try self.parseConjunction())
        }
        return terms.count == 1 ? terms[0] : .any(terms)
    }

    private mutating func parseConjunction() throws(EventFilterError) -> EventFilter.Expression {
        var terms = [try self.parseNegation()]
        while try self.skip(keyword: "and") != nil {
            terms.append(try self.parseNegation())
        }
        return terms.count == 1 ? terms[0] : .all(terms)
    }

    private mutating func parseNegation() throws(EventFilterError) -> EventFilter.Expression {
        guard let start = try self.skip(keyword: "not") else {
            return try self.parsePrimary()
        }
        try self.enter(at: start)
        defer { self.depth -= 1 }
        return .not(try self.parseNegation())
    }

    private mutating func parsePrimary() throws(EventFilterError) -> EventFilter.Expression {
        let (token, start) = try self.next()
        switch token {
        case .leftParenthesis:
            try self.enter(at: start)
            defer { self.depth -= 1 }
            let expression = try self.parseExpression()
            try self.expect(.rightParenthesis, after: "the expression opened at column \(self.column(of: start))")
            return expression
        case .word("exists"):
            try self.expect(.leftParenthesis, after: "'exists'")
            let (argument, argumentStart) = try self.next()
            guard case .path(let path) = argument else {
                throw self.error("'exists' takes a path, such as exists(customer.email), not \(argument)", at: argumentStart)
            }
            try self.expect(.rightParenthesis, after: "the path of 'exists'")
            return .exists(path: path)
        default:
            let left = try self.operand(token, at: start)
            let (comparison, comparisonStart) = try self.next()
            switch comparison {
            case .comparison(let comparison):
                let (right, rightStart) = try self.next()
                return .compare(left, comparison, try self.operand(right, at: rightStart, after: "'\(comparison.rawValue)'"))
            case .word("in"):
                let (right, rightStart) = try self.next()
                return .contains(element: left, collection: try self.operand(right, at: rightStart, after: "'in'"))
            default:
                throw self.error("expected a comparison (==, !=, <, <=, >, >=, in) after \(token), found \(comparison)", at: comparisonStart)
            }
        }
    }

    private func operand(_ token: Token, at start: Int, after previous: String? = nil) throws(EventFilterError) -> EventFilter.Operand {
        switch token {
        case .path(let path):
            return .path(path)
        case .literal(let value):
            return .literal(value)
        default:
            let expected = previous.map { "expected a path or a value after \($0)" } ?? "expected a condition"
            throw self.error("\(expected), found \(token)", at: start)
        }
    }

    private mutating func enter(at start: Int) throws(EventFilterError) {
        self.depth += 1
        guard self.depth <= EventFilter.maxDepth else {
            throw .tooDeep(column: self.column(of: start), maxDepth: EventFilter.maxDepth)
        }
    }

    /// Consumes `keyword` if it comes next, returning where it starts.
    private mutating func skip(keyword: String) throws(EventFilterError) -> Int? {
        let saved = self.offset
        let (token, start) = try self.next()
        if case .word(keyword) = token {
            return start
        }
        self.offset = saved
        return nil
    }

    private mutating func expect(_ expected: Token, after previous: String) throws(EventFilterError) {
        let (token, start) = try self.next()
        guard token == expected else {
            throw self.error("expected \(expected) after \(previous), found \(token)", at: start)
        }
    }

    // MARK: Tokens

    enum Token: Equatable, CustomStringConvertible {
        case leftParenthesis
        case rightParenthesis
        case comparison(EventFilter.ComparisonOperator)
        /// A keyword: `and`, `or`, `not`, `in`, `exists`.
        case word(String)
        case path([String])
        case literal(RawJSON)
        case end

        var description: String {
            switch self {
            case .leftParenthesis: "'('"
            case .rightParenthesis: "')'"
            case .comparison(let comparison): "'\(comparison.rawValue)'"
            case .word(let word): "'\(word)'"
            case .path(let path): "path '\(path.joined(separator: "."))'"
            case .literal(let value): "value \(String(buffer: value.bytes))"
            case .end: "the end of the filter"
            }
        }
    }

    private static let keywords: Set<String> = ["and", "or", "not", "in", "exists"]

    /// The next token and the byte offset where it starts.
    private mutating func next() throws(EventFilterError) -> (token: Token, start: Int) {
        while self.offset < self.bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(self.bytes[self.offset]) {
            self.offset += 1
        }
        let start = self.offset
        guard start < self.bytes.count else {
            return (.end, start)
        }
        let byte = self.bytes[start]
        switch byte {
        case UInt8(ascii: "("):
            self.offset += 1
            return (.leftParenthesis, start)
        case UInt8(ascii: ")"):
            self.offset += 1
            return (.rightParenthesis, start)
        case UInt8(ascii: "="), UInt8(ascii: "!"), UInt8(ascii: "<"), UInt8(ascii: ">"):
            return (.comparison(try self.comparison(start: start)), start)
        case UInt8(ascii: "\""), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "["), UInt8(ascii: "{"):
            return (.literal(try self.literal(start: start)), start)
        case _ where Self.isWordStart(byte):
            return (try self.word(start: start), start)
        default:
            let hint = byte == UInt8(ascii: "&") ? " (use 'and')" : byte == UInt8(ascii: "|") ? " (use 'or')" : ""
            throw self.error("unexpected character '\(self.character(at: start))'\(hint)", at: start)
        }
    }

    private mutating func comparison(start: Int) throws(EventFilterError) -> EventFilter.ComparisonOperator {
        let twoBytes = start + 1 < self.bytes.count && self.bytes[start + 1] == UInt8(ascii: "=")
        let text = String(decoding: self.bytes[start..<start + (twoBytes ? 2 : 1)], as: UTF8.self)
        guard let comparison = EventFilter.ComparisonOperator(rawValue: text) else {
            throw self.error(text == "=" ? "use '==' to compare" : "unexpected '!' (use '!=' or 'not')", at: start)
        }
        self.offset = start + text.utf8.count
        return comparison
    }

    /// A keyword, `true`/`false`/`null`, or a dotted path whose first segment starts with a letter
    /// or `_` and whose later segments may also be array indexes (`items.0.sku`).
    private mutating func word(start: Int) throws(EventFilterError) -> Token {
        while self.offset < self.bytes.count, Self.isWordByte(self.bytes[self.offset]) || self.bytes[self.offset] == UInt8(ascii: ".") {
            self.offset += 1
        }
        let text = String(decoding: self.bytes[start..<self.offset], as: UTF8.self)
        if Self.keywords.contains(text) {
            return .word(text)
        }
        if ["true", "false", "null"].contains(text) {
            return .literal(try! RawJSON(validating: ByteBuffer(string: text)))
        }
        let segments = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !segments.contains("") else {
            throw self.error("path '\(text)' has an empty segment", at: start)
        }
        return .path(segments)
    }

    /// A JSON value: its extent is found here, its syntax checked by `RawJSON(validating:)`.
    private mutating func literal(start: Int) throws(EventFilterError) -> RawJSON {
        var index = start
        var nesting = 0
        var inString = false
        // Past the first byte, a number continues with number bytes, a string to its closing
        // quote, a container to its closing bracket; the validator judges the result.
        repeat {
            let byte = self.bytes[index]
            index += 1
            if inString {
                if byte == UInt8(ascii: "\\") {
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                nesting += 1
            } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                nesting -= 1
            }
        } while index < self.bytes.count && (inString || nesting > 0 || Self.isNumberByte(self.bytes[index]))
        guard !inString, nesting <= 0 else {
            throw self.error(inString ? "unterminated string" : "unclosed '\(self.character(at: start))'", at: start)
        }
        let text = ByteBuffer(bytes: self.bytes[start..<min(index, self.bytes.count)])
        do {
            let value = try RawJSON(validating: text, maxDepth: EventFilter.maxDepth)
            self.offset = start + text.readableBytes
            return value
        } catch {
            throw self.error("invalid value: \(error)", at: start)
        }
    }

    // MARK: Helpers

    private static func isWordStart(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || byte == UInt8(ascii: "_")
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        Self.isWordStart(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || [UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(byte)
    }

    /// The character starting at byte `offset`, for messages.
    private func character(at offset: Int) -> Character {
        String(decoding: self.bytes[offset...], as: UTF8.self).first ?? " "
    }

    /// Characters (not bytes) from the start, counting from 1.
    private func column(of offset: Int) -> Int {
        String(decoding: self.bytes[..<offset], as: UTF8.self).count + 1
    }

    private func error(_ reason: String, at offset: Int) -> EventFilterError {
        .syntax(reason, column: self.column(of: offset))
    }
}
