/// Why a topic or subscription pattern was rejected.
///
/// A struct wrapping a private enum, so new kinds of problem can be added without breaking
/// clients that switch over them. Compare against the static members (`error == .emptySegment`);
/// equality deliberately ignores *where* the problem is, which only enriches ``description``.
public struct TopicError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Problem: Hashable, Sendable {
        case empty
        case tooLong
        case tooManySegments
        case emptySegment
        case invalidCharacter
        case misplacedWildcard
        case wildcardInTopic
    }

    private let problem: Problem
    /// Pinpoints the offending segment or character; sent to clients so they can fix their input.
    private let details: String?

    private init(_ problem: Problem, details: String? = nil) {
        self.problem = problem
        self.details = details
    }

    /// The text has no characters at all.
    public static let empty = TopicError(.empty)
    /// The text is longer than ``Topic/maxByteCount`` UTF-8 bytes.
    public static let tooLong = TopicError(.tooLong)
    /// The text has more than ``Topic/maxSegmentCount`` segments.
    public static let tooManySegments = TopicError(.tooManySegments)
    /// Two dots are adjacent, or the text starts or ends with a dot.
    public static let emptySegment = TopicError(.emptySegment)
    /// A character outside `A-Z a-z 0-9 _ - : @ =`.
    public static let invalidCharacter = TopicError(.invalidCharacter)
    /// A pattern uses `*` inside a segment, or `**` anywhere but as the last segment.
    public static let misplacedWildcard = TopicError(.misplacedWildcard)
    /// A concrete topic contains `*`, which only subscription patterns may use.
    public static let wildcardInTopic = TopicError(.wildcardInTopic)

    /// What is wrong, for an error message.
    public var description: String {
        if let details {
            return details
        }
        switch problem {
        case .empty:
            return "topic is empty"
        case .tooLong:
            return "topic is longer than \(Topic.maxByteCount) bytes"
        case .tooManySegments:
            return "topic has more than \(Topic.maxSegmentCount) segments"
        case .emptySegment:
            return "topic has an empty segment"
        case .invalidCharacter:
            return "topic contains an invalid character; only \(Self.allowedCharacters) are allowed"
        case .misplacedWildcard:
            return "pattern has a misplaced wildcard; '*' must be a whole segment and '**' only the last one"
        case .wildcardInTopic:
            return "topic contains '*'; wildcards are only allowed in subscription patterns"
        }
    }

    /// Whether both are the same error.
    public static func == (lhs: TopicError, rhs: TopicError) -> Bool {
        lhs.problem == rhs.problem
    }

    /// Hashes the error's kind.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(problem)
    }

    private static let allowedCharacters = "A-Z a-z 0-9 _ - : @ ="
}

// Factories used by validation, so every client-facing message is worded in one place.
extension TopicError {
    static func empty(_ syntax: Topic.Syntax) -> TopicError {
        TopicError(.empty, details: "\(syntax.rawValue) is empty")
    }

    static func tooLong(_ syntax: Topic.Syntax, byteCount: Int) -> TopicError {
        TopicError(
            .tooLong,
            details: "\(syntax.rawValue) is \(byteCount) bytes long; at most \(Topic.maxByteCount) are allowed"
        )
    }

    static func tooManySegments(_ syntax: Topic.Syntax) -> TopicError {
        TopicError(
            .tooManySegments,
            details: "\(syntax.rawValue) has more than \(Topic.maxSegmentCount) segments"
        )
    }

    static func emptySegment(_ syntax: Topic.Syntax, segment: Int) -> TopicError {
        TopicError(.emptySegment, details: "\(syntax.rawValue) segment \(segment) is empty")
    }

    static func invalidCharacter(_ syntax: Topic.Syntax, _ character: Unicode.Scalar, segment: Int) -> TopicError {
        let code = String(character.value, radix: 16, uppercase: true)
        let paddedCode = String(repeating: "0", count: max(0, 4 - code.count)) + code
        return TopicError(
            .invalidCharacter,
            details: "\(syntax.rawValue) segment \(segment) contains invalid character "
                + "'\(character.escaped(asASCII: false))' (U+\(paddedCode)); only \(allowedCharacters) are allowed"
        )
    }

    static func wildcardNotWholeSegment(segment: Int) -> TopicError {
        TopicError(
            .misplacedWildcard,
            details: "pattern segment \(segment) mixes '*' with other characters; a wildcard must be the whole segment, or follow a ':' that ends the segment's text (chat:*)"
        )
    }

    static func anyTailNotLast(segment: Int) -> TopicError {
        TopicError(
            .misplacedWildcard,
            details: "pattern segment \(segment) is '**', which is only allowed as the last segment"
        )
    }

    static func wildcardInTopic(segment: Int) -> TopicError {
        TopicError(
            .wildcardInTopic,
            details: "topic segment \(segment) contains '*'; wildcards are only allowed in subscription patterns"
        )
    }
}
