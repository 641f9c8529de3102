import NIOCore
import Testing

@testable import ChorusCore

@Suite struct EventFilterTests {
    static let data = try! RawJSON(
        validating: ByteBuffer(
            string: #"""
                {"customer": {"tier": "gold", "email": "a@example.com", "age": 42, "tags": ["vip", "eu"]},
                 "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
                 "total": 120.5, "count": 3, "paid": true, "note": null, "name": "Zoë",
                 "big": 12345678901234567890, "content-type": "json", "_id": 7, "accent": "\u00e9", "word": "ab"}
                """#
        )
    )

    func matches(_ source: String, _ data: RawJSON = Self.data, sourceLocation: SourceLocation = #_sourceLocation) -> Bool? {
        do {
            return try EventFilter(parsing: source).matches(data: data)
        } catch {
            Issue.record("\(source): \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    func error(_ source: String) -> EventFilterError? {
        do {
            _ = try EventFilter(parsing: source)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        // Equality and paths into objects and arrays.
        (#"customer.tier == "gold""#, true),
        (#"customer.tier != "gold""#, false),
        (#"customer.tier == "silver""#, false),
        (#"items.0.sku == "A-1""#, true),
        ("items.1.qty == 1", true),
        (#"items.2.sku == "A-1""#, false),
        ("content-type == \"json\" and _id == 7", true),
        // Numbers compare numerically, however they are written.
        ("total > 100", true),
        ("total >= 120.5", true),
        ("total < 120.5", false),
        ("total <= 1.205e2", true),
        ("count == 3.0", true),
        ("count == 3e0", true),
        ("count > -1", true),
        ("big == 12345678901234567890", true),
        ("big > 1e19", true),
        // Strings order by Unicode scalars; equality is by scalars, not canonical equivalence.
        (#"customer.tier < "h""#, true),
        (#"name > "Z""#, true),
        (#"accent == "é""#, true),
        (#"accent == "e\u0301""#, false),
        (#"word < "ab!""#, true),
        (#"word > "ab!""#, false),
        (#"word < "a\u0062c""#, true),
        (#"word == "a\u0062""#, true),
        (#"word >= "a\u0062""#, true),
        (#"name > "Zo""#, true),
        (#"name < "Zo\u00ec""#, true),
        (#"name < "Zo\u00ea""#, false),
        // Values of different types are neither equal nor ordered.
        (#"count == "3""#, false),
        (#"count != "3""#, true),
        (#"count < "4""#, false),
        (#"count >= "1""#, false),
        ("paid == 1", false),
        ("paid == true", true),
        ("paid > false", false),
        ("note == null", true),
        ("note != null", false),
        // A missing path equals only another missing path, and is never ordered.
        ("missing == 1", false),
        ("missing != 1", true),
        ("missing < 1", false),
        ("missing >= 1", false),
        ("missing == also.missing", true),
        ("customer.tier.deeper == 1", false),
        // Membership.
        (#"customer.tier in ["gold", "platinum"]"#, true),
        (#"customer.tier in ["silver"]"#, false),
        ("count in [1, 2, 3.0]", true),
        (#""vip" in customer.tags"#, true),
        (#""us" in customer.tags"#, false),
        (#"customer.tier in "gold""#, false),
        ("missing in [1, null]", false),
        // Existence: null exists.
        ("exists(customer.email)", true),
        ("exists(customer.phone)", false),
        ("exists(note)", true),
        ("exists(items.1)", true),
        ("exists(items.7)", false),
        // Containers compare deeply; object key order does not matter, array order does.
        (#"customer.tags == ["vip", "eu"]"#, true),
        (#"customer.tags == ["eu", "vip"]"#, false),
        (#"items.0 == {"qty": 2, "sku": "A-1"}"#, true),
        (#"items.0 == {"qty": 2}"#, false),
        // Logic: not binds tightest, then and, then or; parentheses regroup.
        (#"customer.tier == "gold" and total > 100"#, true),
        (#"customer.tier == "gold" and total > 200"#, false),
        ("total > 200 or paid == true", true),
        ("not paid == true", false),
        ("not not paid == true", true),
        ("not (count == 1 or count == 2)", true),
        ("count == 1 and paid == true or count == 3", true),
        ("count == 3 or count == 1 and paid == false", true),
        ("(count == 3 or count == 1) and paid == false", false),
        ("\tcount\n==\r3 ", true),
        // Either side may be a path or a literal.
        ("3 == count", true),
        ("100 < total", true),
        ("items.0.qty > items.1.qty", true),
    ])
    func evaluates(source: String, expected: Bool) {
        #expect(self.matches(source) == expected, "\(source)")
    }

    @Test func dataOfAnyKindCanBeFiltered() throws {
        let scalar = try RawJSON(validating: ByteBuffer(string: "42"))
        #expect(self.matches("exists(a)", scalar) == false)
        #expect(self.matches("a != 1", scalar) == true)
        let array = try RawJSON(validating: ByteBuffer(string: #"[{"a": 1}]"#))
        #expect(self.matches("a == 1", array) == false)
    }

    @Test(arguments: [
        (#"customer.tier = "gold""#, 15, "use '==' to compare"),
        ("total > ", 9, "expected a path or a value after '>', found the end of the filter"),
        ("(total > 1", 11, "expected ')' after the expression opened at column 1, found the end of the filter"),
        ("total > 1)", 10, "unexpected ')' after a complete expression"),
        ("paid", 5, "expected a comparison (==, !=, <, <=, >, >=, in) after path 'paid', found the end of the filter"),
        ("total > 1 && paid == true", 11, "unexpected character '&' (use 'and')"),
        ("total > 1 || paid == true", 11, "unexpected character '|' (use 'or')"),
        ("!paid", 1, "unexpected '!' (use '!=' or 'not')"),
        (#"name == "abc"#, 9, "unterminated string"),
        ("x in [1, 2", 6, "unclosed '['"),
        ("x == 01", 6, "invalid value: invalid JSON at byte 1"),
        ("x == [1,]", 6, "invalid value"),
        ("exists(1)", 8, "'exists' takes a path, such as exists(customer.email), not value 1"),
        ("exists customer", 8, "expected '(' after 'exists', found path 'customer'"),
        ("a..b == 1", 1, "path 'a..b' has an empty segment"),
        ("a. == 1", 1, "path 'a.' has an empty segment"),
        ("", 1, "expected a condition, found the end of the filter"),
        ("a == 1 and", 11, "expected a condition, found the end of the filter"),
        ("a == 1 or or b == 2", 11, "expected a condition, found 'or'"),
        ("a == 1 b == 2", 8, "unexpected path 'b' after a complete expression"),
        (#"name == "ë" and ?"#, 17, "unexpected character '?'"),
        ("a == 1 == 2", 8, "unexpected '==' after a complete expression"),
    ])
    func rejectsWithTheColumn(source: String, column: Int, message: String) throws {
        let error = try #require(self.error(source), "\(source) should be rejected")
        #expect(error.column == column, "\(source): \(error)")
        #expect(error.description.hasPrefix("invalid filter at column \(column): \(message)"), "\(source): \(error)")
    }

    @Test func lengthIsBounded() throws {
        let padded = "a == 1" + String(repeating: " ", count: EventFilter.maxLength - 6)
        #expect(self.matches(padded, try RawJSON(validating: ByteBuffer(string: #"{"a":1}"#))) == true)
        let error = try #require(self.error(padded + " "))
        #expect(error.column == nil)
        #expect(error.description == "filter longer than 4096 bytes")
    }

    @Test func nestingIsBounded() throws {
        let depth = EventFilter.maxDepth
        #expect(self.matches(String(repeating: "(", count: depth) + "count == 3" + String(repeating: ")", count: depth)) == true)
        #expect(self.matches(String(repeating: "not ", count: depth) + "count == 3") == true)
        let parentheses = try #require(self.error(String(repeating: "(", count: depth + 1) + "a == 1" + String(repeating: ")", count: depth + 1)))
        #expect(parentheses.description == "invalid filter at column \(depth + 1): nested deeper than \(depth) levels")
        #expect(self.error(String(repeating: "not ", count: depth + 1) + "a == 1")?.column == depth * 4 + 1)
        let literal = try #require(self.error("a == " + String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)))
        #expect(literal.description.contains("nested deeper than \(depth) levels"))
    }

    /// `and` and `or` chains are flat, so a long one is neither rejected nor deep to evaluate.
    @Test func longChainsStayFlat() throws {
        let terms = (0..<250).map { "count == \($0)" }
        let filter = try EventFilter(parsing: terms.joined(separator: " or "))
        #expect(filter.matches(data: Self.data))
        guard case .any(let parsed) = filter.expression else {
            Issue.record("expected one 'or' of all terms, got \(filter.expression)")
            return
        }
        #expect(parsed.count == 250)
    }

    @Test func keepsItsSource() throws {
        let filter = try EventFilter(parsing: #"customer.tier in ["gold"]"#)
        #expect(filter.source == #"customer.tier in ["gold"]"#)
        #expect(filter.description == filter.source)
    }
}

/// Random text built from the language's own pieces either parses and evaluates or is refused
/// with a column inside it: never a crash, a hang or a column out of range.
@Suite struct EventFilterRobustnessTests {
    static let pieces = [
        "a", "b.c", "items.0", "x-y", "_z", "é", " ", "(", ")", "==", "!=", "<", "<=", ">", ">=", "=", "!", "&", "|",
        "and", "or", "not", "in", "exists", "exists(", "true", "false", "null", "0", "-1.5e3", "01", "\"s\"", "\"\\u00e9\"",
        "\"", "\\", "[", "]", "{", "}", ",", ":", "[1, \"a\"]", "{\"k\": [1]}", ".", "..", "\t", "\n", "?", "😀",
    ]

    @Test func randomTextNeverCrashes() throws {
        var generator = SeededGenerator(seed: 0x46_69_6C_74_65_72)
        let data = try RawJSON(validating: ByteBuffer(string: #"{"a": 1, "b": {"c": "s"}, "items": [true, null], "x-y": [1, "a"], "_z": {"k": [1]}}"#))
        var parsed = 0
        for _ in 0..<20_000 {
            let source = Bool.random(using: &generator) ? Self.randomText(using: &generator) : Self.randomFilter(using: &generator)
            do {
                let filter = try EventFilter(parsing: source)
                _ = filter.matches(data: data)
                parsed += 1
            } catch {
                let column = try #require(error.column, "\(source): \(error)")
                #expect((1...source.count + 1).contains(column), "\(source): \(error)")
            }
        }
        // Half the cases are built from the grammar, so evaluation is exercised too.
        #expect(parsed > 5000)
    }

    static func randomText(using generator: inout SeededGenerator) -> String {
        (0..<Int.random(in: 1...12, using: &generator)).map { _ in Self.pieces.randomElement(using: &generator)! }.joined()
    }

    /// Conditions joined with `and`/`or`, some negated or parenthesized: valid filters, mostly.
    static func randomFilter(using generator: inout SeededGenerator) -> String {
        let operands = ["a", "b.c", "items.0", "items.1", "x-y", "x-y.1", "_z.k", "_z", "missing", "1", "\"s\"", "null", "true", "[1, \"a\"]", "{\"k\": [1]}"]
        let comparisons = ["==", "!=", "<", "<=", ">", ">=", "in"]
        return (0..<Int.random(in: 1...5, using: &generator)).map { _ in
            var term = Bool.random(using: &generator)
                ? "exists(\(["a", "b.c", "items.3", "_z.k.0"].randomElement(using: &generator)!))"
                : "\(operands.randomElement(using: &generator)!) \(comparisons.randomElement(using: &generator)!) \(operands.randomElement(using: &generator)!)"
            if Int.random(in: 0..<4, using: &generator) == 0 { term = "not " + term }
            if Int.random(in: 0..<4, using: &generator) == 0 { term = "(" + term + ")" }
            return term
        }.joined(separator: Bool.random(using: &generator) ? " and " : " or ")
    }
}
