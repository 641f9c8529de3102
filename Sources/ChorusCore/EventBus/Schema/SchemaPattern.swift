/// A `pattern` (or `patternProperties` key): an ECMA-262 regular expression run by Swift's
/// `Regex`, which needs no Foundation.
///
/// Options bring `Regex` close to ECMA-262 with the `u` flag: matching by Unicode scalar rather
/// than by grapheme, ASCII-only `\d` `\w` and `\b`. Constructs `Regex` lacks (lookbehind, `\cX`)
/// fail to compile, so the schema is refused rather than matched differently.
///
/// `@unchecked`: `Regex` is Sendable only for a Sendable output, and `AnyRegexOutput` is not,
/// but the output is never read here; the compiled program is shared the same way either way.
struct SchemaPattern: @unchecked Sendable {
    let source: String
    private let regex: Regex<AnyRegexOutput>

    /// Compiles `source`; the error says why it is not a usable pattern.
    init(_ source: String) throws(SchemaPatternError) {
        do {
            self.regex = try Regex(source)
                .matchingSemantics(.unicodeScalar)
                .asciiOnlyDigits()
                .asciiOnlyWordCharacters()
                .wordBoundaryKind(.simple)
        } catch {
            throw SchemaPatternError(reason: String(describing: error))
        }
        self.source = source
    }

    /// Whether the pattern matches anywhere in `string` (patterns are not implicitly anchored).
    func matches(_ string: String) -> Bool {
        // Matching throws only for custom components, which a parsed pattern has none of.
        (try? self.regex.firstMatch(in: string)) != nil
    }
}

/// Why a pattern did not compile.
struct SchemaPatternError: Error {
    let reason: String
}
