import Testing

import ChorusCore

@Suite struct TopicTests {
    /// `count` segments of `segment`, joined by dots.
    private static func joined(_ segment: String, count: Int) -> String {
        Array(repeating: segment, count: count).joined(separator: ".")
    }

    @Test(arguments: [
        "chat:general",
        "messages.user.42",
        "editor:doc123",
        "user:alice@example.com",
        "a=b",
        "x",
        "A-Z_a-z.0-9:@=",
    ])
    func acceptsValidTopics(_ name: String) throws {
        let topic = try Topic(name)
        #expect(topic.name == name)
        #expect(topic.description == name)
    }

    @Test(arguments: [
        ("", TopicError.empty),
        ("a..b", .emptySegment),
        (".a", .emptySegment),
        ("a.", .emptySegment),
        (".", .emptySegment),
        ("a b", .invalidCharacter),
        (" ", .invalidCharacter),
        ("café", .invalidCharacter),
        ("é", .invalidCharacter),
        ("a/b", .invalidCharacter),
        ("a\nb", .invalidCharacter),
        ("*", .wildcardInTopic),
        ("a.*", .wildcardInTopic),
        ("a.**", .wildcardInTopic),
        ("a*b", .wildcardInTopic),
    ])
    func rejectsInvalidTopics(_ name: String, _ expected: TopicError) {
        #expect(throws: expected) {
            try Topic(name)
        }
    }

    @Test func acceptsExactlyTheAllowedASCIICharacters() {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-:@=")
        for value in UInt8(0)...UInt8(127) {
            let character = Character(Unicode.Scalar(value))
            // A dot separates segments, so "a.b" is valid without "." being a segment character.
            let expected = allowed.contains(character) || character == "."
            #expect(((try? Topic("a\(character)b")) != nil) == expected, "character \(value)")
        }
    }

    @Test func segmentCountLimitIsSixteen() throws {
        let sixteen = Self.joined("a", count: 16)
        #expect(try Topic(sixteen).segments.count == 16)
        #expect(throws: TopicError.tooManySegments) {
            try Topic(Self.joined("a", count: 17))
        }
    }

    @Test func byteLimitIs255() throws {
        let longest = String(repeating: "a", count: 255)
        #expect(try Topic(longest).name.utf8.count == 255)
        #expect(throws: TopicError.tooLong) {
            try Topic(String(repeating: "a", count: 256))
        }
        // Dots count too: 16 segments of 15 bytes plus 15 dots hits both limits exactly.
        let fullest = Self.joined(String(repeating: "b", count: 15), count: 16)
        #expect(try Topic(fullest).name.utf8.count == 255)
        #expect(throws: TopicError.tooLong) { try Topic(fullest + "b") }
    }

    @Test func errorDescriptionsPinpointTheProblem() {
        #expect(describe { try Topic("a..b") } == "topic segment 2 is empty")
        #expect(describe { try Topic("") } == "topic is empty")
        #expect(
            describe { try Topic(String(repeating: "a", count: 256)) }
                == "topic is 256 bytes long; at most 255 are allowed"
        )
        #expect(describe { try Topic(Self.joined("a", count: 17)) } == "topic has more than 16 segments")
        #expect(
            describe { try Topic("ok.caf\u{E9}") }
                == "topic segment 2 contains invalid character 'é' (U+00E9); only A-Z a-z 0-9 _ - : @ = are allowed"
        )
        #expect(
            describe { try Topic("a\tb") }
                == "topic segment 1 contains invalid character '\\t' (U+0009); only A-Z a-z 0-9 _ - : @ = are allowed"
        )
        #expect(
            describe { try Topic("a.b.c*") }
                == "topic segment 3 contains '*'; wildcards are only allowed in subscription patterns"
        )
        #expect(describe { try TopicPattern("a..b") } == "pattern segment 2 is empty")
        #expect(
            describe { try TopicPattern("a.**.b") }
                == "pattern segment 2 is '**', which is only allowed as the last segment"
        )
        #expect(
            describe { try TopicPattern("a.b*") }
                == "pattern segment 2 mixes '*' with other characters; a wildcard must be the whole segment, or follow a ':' that ends the segment's text (chat:*)"
        )
        #expect(TopicError.emptySegment.description == "topic has an empty segment")
    }

    @Test func errorsCompareByKindNotPosition() throws {
        let second = try #require(#expect(throws: TopicError.self) { try Topic("a..b") })
        let third = try #require(#expect(throws: TopicError.self) { try Topic("a.b..c") })
        #expect(second.description != third.description)
        #expect(second == third)
        #expect(second == .emptySegment)
        #expect(second != .invalidCharacter)
        #expect(Set([TopicError.emptySegment, second, third]).count == 1)
    }

    @Test(arguments: [
        ("chat:general", "chat"),
        ("messages.user.42", "messages"),
        ("plain", "plain"),
        ("a.b:c", "a"),
        ("user:alice@example.com", "user"),
        ("a=b", "a=b"),
    ])
    func namespaceIsFirstSegmentUpToColonOrDot(_ name: String, _ namespace: String) throws {
        #expect(try Topic(name).namespace == namespace)
    }

    @Test func segmentsSplitOnDots() throws {
        #expect(try Topic("messages.user.42").segments == ["messages", "user", "42"])
        #expect(try Topic("chat:general").segments == ["chat:general"])
    }

    @Test func topicsOrderByName() throws {
        let names = ["b", "a.b", "a", "A"]
        let sorted = try names.map { try Topic($0) }.sorted().map(\.name)
        #expect(sorted == ["A", "a", "a.b", "b"])
    }

    @Test(arguments: [
        ("messages.user.*", [TopicPattern.Segment.literal("messages"), .literal("user"), .anySegment]),
        ("messages.**", [.literal("messages"), .anyTail]),
        ("*", [.anySegment]),
        ("**", [.anyTail]),
        ("*.*.**", [.anySegment, .anySegment, .anyTail]),
        ("chat:general", [.literal("chat:general")]),
        ("chat:*", [.prefixed("chat:")]),
        ("chat:**", [.prefixedTail("chat:")]),
        ("game:lobby:*.moves", [.prefixed("game:lobby:"), .literal("moves")]),
        ("a.chat:**", [.literal("a"), .prefixedTail("chat:")]),
    ])
    func parsesPatternSegments(_ text: String, _ segments: [TopicPattern.Segment]) throws {
        let pattern = try TopicPattern(text)
        #expect(pattern.text == text)
        #expect(pattern.description == text)
        #expect(pattern.segments == segments)
    }

    @Test(arguments: [
        ("", TopicError.empty),
        ("a..b", .emptySegment),
        (".*", .emptySegment),
        ("**.", .misplacedWildcard),
        ("a*", .misplacedWildcard),
        ("*a", .misplacedWildcard),
        ("a.b*c", .misplacedWildcard),
        ("***", .misplacedWildcard),
        ("**.a", .misplacedWildcard),
        ("a.**.b", .misplacedWildcard),
        ("**.**", .misplacedWildcard),
        ("chat*", .misplacedWildcard),
        ("chat:*x", .misplacedWildcard),
        ("chat:*:*", .misplacedWildcard),
        ("chat:***", .misplacedWildcard),
        ("chat:**.x", .misplacedWildcard),
        ("chat:*.**.x", .misplacedWildcard),
        ("a b.*", .invalidCharacter),
        ("é.*", .invalidCharacter),
    ])
    func rejectsInvalidPatterns(_ text: String, _ expected: TopicError) {
        #expect(throws: expected) {
            try TopicPattern(text)
        }
    }

    @Test func patternLimitsMatchTopicLimits() throws {
        #expect(throws: Never.self) { try TopicPattern(Self.joined("*", count: 15) + ".**") }
        #expect(throws: TopicError.tooManySegments) { try TopicPattern(Self.joined("*", count: 16) + ".**") }
        #expect(throws: Never.self) { try TopicPattern(String(repeating: "a", count: 253) + ".*") }
        #expect(throws: TopicError.tooLong) { try TopicPattern(String(repeating: "a", count: 254) + ".*") }
    }

    @Test func exactPatternsAreTopics() throws {
        let topic = try Topic("messages.user.42")
        let fromTopic = TopicPattern(topic)
        let parsed = try TopicPattern("messages.user.42")
        #expect(fromTopic == parsed)
        #expect(fromTopic.segments == parsed.segments)
        #expect(!parsed.isWildcard)
        #expect(parsed.exactTopic == topic)

        let wildcard = try TopicPattern("messages.*.42")
        #expect(wildcard.isWildcard)
        #expect(wildcard.exactTopic == nil)
        #expect(try TopicPattern("messages.**").isWildcard)
    }

    @Test(arguments: [
        ("messages.user.*", "messages.user.42", true),
        ("messages.user.*", "messages.user", false),
        ("messages.user.*", "messages.user.42.x", false),
        ("messages.**", "messages.user.42", true),
        ("messages.**", "messages.channel.7", true),
        ("messages.**", "messages.x", true),
        ("messages.**", "messages", false),
        ("messages.**", "other.user.42", false),
        ("**", "a", true),
        ("**", "a.b.c", true),
        ("*", "a", true),
        ("*", "a.b", false),
        ("*.b", "x.b", true),
        ("*.b", "x.y.b", false),
        ("*.b", "x.c", false),
        ("a.*.c", "a.b.c", true),
        ("a.*.c", "a.b.d", false),
        ("a.*.**", "a.b", false),
        ("a.*.**", "a.b.c", true),
        ("chat:general", "chat:general", true),
        ("chat:general", "chat:generals", false),
        ("chat", "chat:general", false),
        ("chat:*", "chat:general", true),
        ("chat:*", "chat:", false),
        ("chat:*", "chat", false),
        ("chat:*", "chats:general", false),
        ("chat:*", "chat:general.typing", false),
        ("chat:**", "chat:general", true),
        ("chat:**", "chat:general.typing", true),
        ("chat:**", "chat:general.a.b", true),
        ("chat:**", "chat.general", false),
        ("chat:**", "chat:", false),
        ("game:lobby:*.moves", "game:lobby:7.moves", true),
        ("game:lobby:*.moves", "game:lobby.moves", false),
        ("chat:*", "chat:a:b", true),
    ])
    func naiveMatching(_ pattern: String, _ topic: String, _ expected: Bool) throws {
        #expect(try TopicPattern(pattern).matches(Topic(topic)) == expected)
    }

    /// The message a client would see for the error `body` throws, or `nil` if it throws none.
    private func describe<Value>(_ body: () throws -> Value) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? TopicError)?.description
        }
    }
}
