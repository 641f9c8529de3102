/// Why a value does not match a schema: one failed keyword.
public struct SchemaViolation: Sendable, Hashable, CustomStringConvertible {
    /// Where the failing value is in the validated document, as an RFC 6901 JSON Pointer: `""`
    /// for the whole document, `/items/0/name~1id` for member `name/id` of the first element of
    /// member `items` (`~` is written `~0`, `/` is written `~1`).
    public let instanceLocation: String
    /// Where the failing keyword is in the schema, as an RFC 6901 JSON Pointer such as
    /// `/properties/age/minimum`.
    public let keywordLocation: String
    /// What is wrong, in a sentence.
    public let message: String

    /// A violation of the keyword at `keywordLocation` by the value at `instanceLocation`.
    public init(instanceLocation: String, keywordLocation: String, message: String) {
        self.instanceLocation = instanceLocation
        self.keywordLocation = keywordLocation
        self.message = message
    }

    /// `<instance pointer>: <message>`, the root written as `/`.
    public var description: String {
        "\(self.instanceLocation.isEmpty ? "/" : self.instanceLocation): \(self.message)"
    }
}
