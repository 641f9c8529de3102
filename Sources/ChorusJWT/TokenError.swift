/// Why a token was refused before its claims were read. `description` completes "invalid
/// token: …" for the client, and never repeats what the token holds.
public struct TokenError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Reason: Hashable, Sendable {
        case tooLong
        case notThreeParts
        case notBase64URL
        case notJSONObject
        case noAlgorithm
        case unsigned
        case criticalExtension
        case keyIDNotAString
        case unknownKeyID
        case algorithmNotTheKeys
        case badSignature
    }

    private let reason: Reason

    private init(_ reason: Reason) {
        self.reason = reason
    }

    /// Longer than ``TokenVerifier/maxTokenLength``.
    public static let tooLong = TokenError(.tooLong)
    /// Not `header.payload.signature`.
    public static let notThreeParts = TokenError(.notThreeParts)
    /// A part that is not canonical unpadded base64url.
    public static let notBase64URL = TokenError(.notBase64URL)
    /// A header or payload that is not a JSON object.
    public static let notJSONObject = TokenError(.notJSONObject)
    /// A header without a string `alg`.
    public static let noAlgorithm = TokenError(.noAlgorithm)
    /// `alg: none`.
    public static let unsigned = TokenError(.unsigned)
    /// A header with `crit`: extensions that change how the token is read, none of them supported.
    public static let criticalExtension = TokenError(.criticalExtension)
    /// A `kid` header that is not a string.
    public static let keyIDNotAString = TokenError(.keyIDNotAString)
    /// A `kid` that names no key of the key set.
    public static let unknownKeyID = TokenError(.unknownKeyID)
    /// An `alg` other than the one of the key the token selects.
    public static let algorithmNotTheKeys = TokenError(.algorithmNotTheKeys)
    /// A signature that does not verify with the key.
    public static let badSignature = TokenError(.badSignature)

    /// Why the token was refused, for the logs.
    public var description: String {
        switch self.reason {
        case .tooLong: "it is longer than \(TokenVerifier.maxTokenLength) bytes"
        case .notThreeParts: "it is not three parts (header.payload.signature)"
        case .notBase64URL: "a part of it is not base64url"
        case .notJSONObject: "its header or its claims are not a JSON object"
        case .noAlgorithm: "its header names no algorithm ('alg')"
        case .unsigned: "it is not signed (alg 'none')"
        case .criticalExtension: "its header lists critical extensions ('crit'), and this hub supports none"
        case .keyIDNotAString: "its 'kid' is not a string"
        case .unknownKeyID: "its 'kid' names no key of this hub's key set"
        case .algorithmNotTheKeys: "its algorithm ('alg') is not the one of the key that checks it"
        case .badSignature: "its signature does not verify"
        }
    }
}
