/// A validated, concrete topic that messages are published to, such as `chat:general` or `messages.user.42`.
///
/// Only the name is stored, so topics stay as cheap to copy and hash as a `String`; segments are
/// sliced out on demand.
public struct Topic: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The most segments a topic or pattern may have.
    public static let maxSegmentCount = 16
    /// The most UTF-8 bytes a topic or pattern may have.
    public static let maxByteCount = 255

    /// The topic's text.
    public let name: String

    /// Validates `name` against the wire protocol's topic rules.
    public init(_ name: String) throws(TopicError) {
        try Self.validate(name, as: .topic)
        self.name = name
    }

    /// Wraps text that has already passed topic validation, such as a pattern without wildcards.
    init(validatedName name: String) {
        self.name = name
    }

    /// The first segment up to the first `:` or `.`, used to group topics for authorization and limits.
    public var namespace: Substring {
        let end = name.utf8.firstIndex { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }
        return name[..<(end ?? name.endIndex)]
    }

    /// The dot-separated segments; allocates, so hot paths walk ``name`` instead.
    public var segments: [Substring] {
        name.split(separator: ".", omittingEmptySubsequences: false)
    }

    /// The topic's text.
    public var description: String {
        name
    }

    /// Orders topics by their text.
    public static func < (lhs: Topic, rhs: Topic) -> Bool {
        lhs.name < rhs.name
    }
}

extension Topic {
    /// Which rules validation applies: patterns additionally allow whole-segment wildcards.
    enum Syntax: String, Sendable {
        case topic
        case pattern
    }

    /// Checks every rule in one pass over the UTF-8 bytes, since each published message's topic comes through here.
    static func validate(_ text: String, as syntax: Syntax) throws(TopicError) {
        let bytes = text.utf8
        guard !bytes.isEmpty else {
            throw .empty(syntax)
        }
        guard bytes.count <= maxByteCount else {
            throw .tooLong(syntax, byteCount: bytes.count)
        }

        var segment = 1
        var literalByteCount = 0
        var wildcardByteCount = 0
        // A wildcard may follow text only when that text ends in `:` (`chat:*`), and nothing follows it.
        var lastLiteralByte: UInt8 = 0
        var literalAfterWildcard = false

        func checkSegment(isLast: Bool) throws(TopicError) {
            if wildcardByteCount == 0 {
                guard literalByteCount > 0 else {
                    throw .emptySegment(syntax, segment: segment)
                }
            } else {
                guard !literalAfterWildcard, wildcardByteCount <= 2, literalByteCount == 0 || lastLiteralByte == UInt8(ascii: ":") else {
                    throw .wildcardNotWholeSegment(segment: segment)
                }
                guard wildcardByteCount == 1 || isLast else {
                    throw .anyTailNotLast(segment: segment)
                }
            }
        }

        for index in bytes.indices {
            switch bytes[index] {
            case UInt8(ascii: "."):
                try checkSegment(isLast: false)
                guard segment < maxSegmentCount else {
                    throw .tooManySegments(syntax)
                }
                segment += 1
                literalByteCount = 0
                wildcardByteCount = 0
                literalAfterWildcard = false
            case UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "="):
                literalByteCount += 1
                lastLiteralByte = bytes[index]
                if wildcardByteCount > 0 { literalAfterWildcard = true }
            case UInt8(ascii: "*"):
                guard syntax == .pattern else {
                    throw .wildcardInTopic(segment: segment)
                }
                wildcardByteCount += 1
            default:
                // Every earlier byte was ASCII, so this index starts a whole Unicode scalar.
                throw .invalidCharacter(syntax, text.unicodeScalars[index], segment: segment)
            }
        }
        try checkSegment(isLast: true)
    }
}
