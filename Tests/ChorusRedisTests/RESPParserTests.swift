import ChorusRedis
import NIOCore
import Testing

@Suite struct RESPParserTests {
    /// Every type, as a server sends it, with the value it must read as.
    static let samples: [(wire: String, value: RESPValue)] = [
        ("+OK\r\n", .simpleString(ByteBuffer(string: "OK"))),
        ("-ERR unknown command\r\n", .error(ByteBuffer(string: "ERR unknown command"))),
        ("!21\r\nSYNTAX invalid syntax\r\n", .error(ByteBuffer(string: "SYNTAX invalid syntax"))),
        (":-42\r\n", .integer(-42)),
        (":9223372036854775807\r\n", .integer(.max)),
        (":-9223372036854775808\r\n", .integer(.min)),
        ("$5\r\nhe\r\no\r\n", .bulkString(ByteBuffer(string: "he\r\no"))),
        ("$0\r\n\r\n", .bulkString(ByteBuffer())),
        ("$-1\r\n", .null),
        ("*-1\r\n", .null),
        ("_\r\n", .null),
        ("*0\r\n", .array([])),
        ("*2\r\n:1\r\n*1\r\n+a\r\n", .array([.integer(1), .array([.simpleString(ByteBuffer(string: "a"))])])),
        (",3.25\r\n", .double(3.25)),
        (",-inf\r\n", .double(-.infinity)),
        ("#t\r\n", .boolean(true)),
        ("#f\r\n", .boolean(false)),
        ("%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n", .map([
            RESPPair(key: .simpleString(ByteBuffer(string: "a")), value: .integer(1)),
            RESPPair(key: .simpleString(ByteBuffer(string: "b")), value: .integer(2)),
        ])),
        ("~2\r\n:1\r\n:2\r\n", .set([.integer(1), .integer(2)])),
        (">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n", .push([
            .bulkString(ByteBuffer(string: "message")), .bulkString(ByteBuffer(string: "ch")), .bulkString(ByteBuffer(string: "x")),
        ])),
        ("=15\r\ntxt:Some string\r\n", .verbatim(format: ByteBuffer(string: "txt"), text: ByteBuffer(string: "Some string"))),
        ("(-3492890328409238509324850943850943825024385\r\n", .bigNumber(ByteBuffer(string: "-3492890328409238509324850943850943825024385"))),
        // An attribute annotates the value after it and is dropped.
        ("|1\r\n+ttl\r\n:3600\r\n:7\r\n", .integer(7)),
        ("*2\r\n|1\r\n+k\r\n+v\r\n:1\r\n:2\r\n", .array([.integer(1), .integer(2)])),
    ]

    static func parseAll(_ wire: String, limits: RESPParser.Limits = RESPParser.Limits()) throws -> [RESPValue] {
        var parser = RESPParser(limits: limits)
        var buffer = ByteBuffer(string: wire)
        var values: [RESPValue] = []
        while let value = try parser.next(from: &buffer) {
            values.append(value)
        }
        return values
    }

    @Test func everyTypeReadsAsItsValue() throws {
        for sample in Self.samples {
            #expect(try Self.parseAll(sample.wire) == [sample.value], "\(sample.wire.debugDescription)")
        }
    }

    @Test func nanReadsAsNaN() throws {
        let values = try Self.parseAll(",nan\r\n")
        guard case .double(let value) = values.first else {
            Issue.record("no double: \(values)")
            return
        }
        #expect(value.isNaN)
    }

    @Test func repliesOneAfterAnotherReadInOrder() throws {
        let wire = Self.samples.map(\.wire).joined()
        #expect(try Self.parseAll(wire) == Self.samples.map(\.value))
    }

    /// The bytes arrive split at every point: nothing until the split is past the end, then
    /// the same values, whatever the split.
    @Test func partialInputAtEverySplitPoint() throws {
        let wire = Array(Self.samples.map(\.wire).joined().utf8)
        for split in 0...wire.count {
            var parser = RESPParser()
            var buffer = ByteBuffer(bytes: wire[..<split])
            var values: [RESPValue] = []
            while let value = try parser.next(from: &buffer) {
                values.append(value)
            }
            buffer.writeBytes(wire[split...])
            while let value = try parser.next(from: &buffer) {
                values.append(value)
            }
            #expect(values == Self.samples.map(\.value), "split at \(split)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func oneByteAtATime() throws {
        let wire = Array(Self.samples.map(\.wire).joined().utf8)
        var parser = RESPParser()
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        for byte in wire {
            buffer.writeInteger(byte)
            while let value = try parser.next(from: &buffer) {
                values.append(value)
            }
        }
        #expect(values == Self.samples.map(\.value))
    }

    /// Finished elements of a partial aggregate leave the buffer: they are not parsed again.
    @Test func finishedElementsOfAPartialArrayAreConsumed() throws {
        var parser = RESPParser()
        var buffer = ByteBuffer(string: "*3\r\n:1\r\n$3\r\nabc\r\n$5\r\nhel")
        #expect(try parser.next(from: &buffer) == nil)
        #expect(String(buffer: buffer) == "$5\r\nhel")
        buffer.writeString("lo\r\n")
        #expect(try parser.next(from: &buffer) == .array([.integer(1), .bulkString(ByteBuffer(string: "abc")), .bulkString(ByteBuffer(string: "hello"))]))
    }

    @Test(arguments: [
        ("?x\r\n", RESPParseError.Code.unknownType),
        ("+a\rb\r\n", .malformed),
        ("+a\nb\r\n", .malformed),
        (":12a\r\n", .malformed),
        (":\r\n", .malformed),
        (":-\r\n", .malformed),
        (":9223372036854775808\r\n", .malformed),
        ("$x\r\n", .malformed),
        ("$-2\r\n", .malformed),
        ("$3\r\nabcd\r\n", .malformed),
        ("!-1\r\n", .malformed),
        ("*-2\r\n", .malformed),
        ("~-1\r\n", .malformed),
        ("_x\r\n", .malformed),
        ("#x\r\n", .malformed),
        ("#tt\r\n", .malformed),
        (",abc\r\n", .malformed),
        (",\r\n", .malformed),
        ("(12x\r\n", .malformed),
        ("(-\r\n", .malformed),
        ("=3\r\ntxt\r\n", .malformed),
        ("=5\r\ntxt-a\r\n", .malformed),
        ("$99999999999999999999\r\n", .malformed),
    ])
    func malformedInputThrows(wire: String, code: RESPParseError.Code) {
        #expect { try Self.parseAll(wire) } throws: { ($0 as? RESPParseError)?.code == code }
    }

    @Test func limitsAreEnforcedBeforeAnythingIsKept() throws {
        let limits = RESPParser.Limits(maxDepth: 3, maxBulkLength: 10, maxAggregateCount: 4, maxLineLength: 8)
        #expect(throws: RESPParseError.self) { try Self.parseAll("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", limits: limits) }
        #expect(try Self.parseAll("*1\r\n*1\r\n*1\r\n:1\r\n", limits: limits).count == 1)
        #expect(throws: RESPParseError.self) { try Self.parseAll("$11\r\n", limits: limits) }
        #expect(throws: RESPParseError.self) { try Self.parseAll("*5\r\n", limits: limits) }
        #expect(throws: RESPParseError.self) { try Self.parseAll("%5\r\n", limits: limits) }
        // A line past the limit fails before its CRLF arrives.
        #expect(throws: RESPParseError.self) { try Self.parseAll("+123456789", limits: limits) }
        #expect(try Self.parseAll("+12345678\r\n", limits: limits).count == 1)
    }

    @Test func deepNestingWithinTheLimitNeedsNoRecursion() throws {
        let depth = 10_000
        let wire = String(repeating: "*1\r\n", count: depth) + ":1\r\n"
        var value = try Self.parseAll(wire, limits: RESPParser.Limits(maxDepth: depth))[0]
        var levels = 0
        while case .array(let elements) = value {
            levels += 1
            value = elements[0]
        }
        #expect(levels == depth && value == .integer(1))
    }

    @Test func writtenValuesReadBack() throws {
        var buffer = ByteBuffer()
        for sample in Self.samples {
            sample.value.write(into: &buffer)
        }
        var parser = RESPParser()
        for sample in Self.samples {
            #expect(try parser.next(from: &buffer) == sample.value)
        }
    }

    @Test func accessors() {
        #expect(RESPValue.bulkString(ByteBuffer(string: "12")).int == 12)
        #expect(RESPValue.integer(5).int == 5)
        #expect(RESPValue.simpleString(ByteBuffer(string: "OK")).string == "OK")
        #expect(RESPValue.verbatim(format: ByteBuffer(string: "txt"), text: ByteBuffer(string: "t")).string == "t")
        #expect(RESPValue.set([.integer(1)]).array == [.integer(1)])
        #expect(RESPValue.error(ByteBuffer(string: "ERR x")).errorMessage == "ERR x")
        #expect(RESPValue.null.isNull && RESPValue.integer(1).string == nil)
    }
}
