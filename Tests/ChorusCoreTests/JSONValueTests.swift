import ChorusCore
import NIOCore
import Testing

/// `JSONValue`: a tree parsed with the scanner's validation, numbers kept exactly.
@Suite struct JSONValueTests {
    private func parse(_ text: String, maxDepth: Int = 64) throws -> JSONValue {
        try JSONValue(parsing: ByteBuffer(string: text), maxDepth: maxDepth)
    }

    private struct NotANumber: Error {}

    private func number(_ text: String) throws -> JSONNumber {
        guard case .number(let number) = try self.parse(text) else {
            throw NotANumber()
        }
        return number
    }

    @Test func everyKindIsParsed() throws {
        let value = try self.parse(#" {"a": [null, true, false, "x\u00e9\n\ud83d\ude00", -1.5e3, {}], "b": []} "#)
        guard case .object(let object) = value, case .array(let elements)? = object["a"] else {
            Issue.record("unexpected tree \(value)")
            return
        }
        #expect(object.keys == ["a", "b"])
        #expect(object["b"] == .array([]))
        #expect(elements.count == 6)
        #expect(elements[0] == .null)
        #expect(elements[1] == .bool(true))
        #expect(elements[2] == .bool(false))
        #expect(elements[3] == .string("xé\n😀"))
        #expect(elements[4] == .number(try self.number("-1500")))
        #expect(elements[5] == .object(JSONValue.Object()))
    }

    @Test func numbersKeepTheirTextAndExactValue() throws {
        let number = try self.number("1.50e1")
        #expect(number.text == "1.50e1")
        #expect(number.double == 15)
        #expect(number.int64 == 15)
        #expect(number.isInteger)

        #expect(try self.number("1.0").isInteger)
        #expect(try self.number("1.0").int64 == 1)
        #expect(try !self.number("1.5").isInteger)
        #expect(try self.number("1.5").int64 == nil)
        #expect(try !self.number("1e-1").isInteger)
        #expect(try self.number("-0.0").int64 == 0)
        #expect(try self.number("-9223372036854775808").int64 == .min)
        #expect(try self.number("9223372036854775808").int64 == nil)
        // Integral however large, though no Int64 holds it.
        #expect(try self.number("1e400").isInteger)
        #expect(try self.number("12345678910111213141516171819202122232425262728293031").isInteger)
    }

    @Test func numbersCompareAsExactDecimals() throws {
        #expect(try self.number("1") == self.number("1.0"))
        #expect(try self.number("1") == self.number("10e-1"))
        #expect(try self.number("0") == self.number("-0.0"))
        #expect(try self.number("9007199254740992") != self.number("9007199254740993"))
        // Both round to the same Double, but they are different numbers.
        #expect(try self.number("0.1") < self.number("0.10000000000000001"))
        #expect(try self.number("-2") < self.number("-1.5"))
        #expect(try self.number("-1") < self.number("0"))
        #expect(try self.number("0") < self.number("1e-400"))
        #expect(try self.number("99") < self.number("1e2"))
        #expect(try !(self.number("1e2") < self.number("100.0")))
        #expect(try self.number("1e400") < self.number("1e401"))
        #expect(try Set([self.number("1"), self.number("1.00"), self.number("100e-2")]).count == 1)
    }

    @Test func equalityFollowsJSONSchema() throws {
        #expect(try self.parse(#"{"a": 1, "b": [1.0, {"c": null}]}"#) == self.parse(#"{"b": [1, {"c": null}], "a": 1.0}"#))
        #expect(try self.parse("[1, 2]") != self.parse("[2, 1]"))
        #expect(try self.parse("true") != self.parse("1"))
        #expect(try self.parse(#"{"a": 1}"#) != self.parse(#"{"a": 1, "b": 2}"#))
    }

    @Test func aDuplicatedKeyKeepsTheLastValueAtItsFirstPosition() throws {
        guard case .object(let object) = try self.parse(#"{"a": 1, "b": 2, "a": 3}"#) else {
            Issue.record("not an object")
            return
        }
        #expect(object.keys == ["a", "b"])
        #expect(object.count == 2)
        #expect(object["a"] == .number(try self.number("3")))
        #expect(object.members.map(\.key) == ["a", "b"])
    }

    @Test func objectsCanBeBuiltAndEdited() {
        var object = JSONValue.Object()
        object["x"] = .null
        object["y"] = .bool(true)
        object["x"] = .string("s")
        #expect(object.keys == ["x", "y"])
        object["x"] = nil
        #expect(object.keys == ["y"])
        #expect(object["x"] == nil)
    }

    @Test(arguments: ["", "{", "[1,]", "01", "1 2", #"{"a" 1}"#, #""\ud800""#, "nul", "[1}", "{\"a\":1]"])
    func invalidJSONIsRefused(text: String) {
        #expect(throws: JSONError.self) { try self.parse(text) }
    }

    @Test func nestingIsBounded() throws {
        #expect(try self.parse("[[1]]", maxDepth: 2) == self.parse("[[1.0]]"))
        #expect(throws: JSONError.self) { try self.parse("[[[1]]]", maxDepth: 2) }
        #expect(throws: JSONError.self) { try self.parse(#"{"a": {"b": {}}}"#, maxDepth: 2) }
        let hostile = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONError.self) { try self.parse(hostile) }
    }

    @Test func aRawValueBecomesATree() throws {
        let object = try JSONObject(parsing: ByteBuffer(string: #"{"data": {"n": [1, "two"]}}"#))
        let data = try #require(object["data"])
        #expect(JSONValue(data) == (try self.parse(#"{"n": [1, "two"]}"#)))
    }
}
