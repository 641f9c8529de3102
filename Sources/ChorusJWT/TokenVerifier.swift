public import ChorusCore
import NIOCore

/// Verifies JWS compact tokens (JWTs) on the caller's thread, with no task or actor hop: a
/// connection's event loop checks a token in place.
///
/// Which key checks a token: with a key set, the one its `kid` names (a `kid` the set lacks is
/// refused); without `kid`, or without a key set, the default key (`jwt_secret` or
/// `jwt_public_key`; with neither, the set's first key). The token's `alg` must be that key's
/// algorithm. Its claims are returned as they are, for the caller to judge.
public struct TokenVerifier: Sendable {
    /// Far more than issuers write (cookies and proxies stop near 8 KiB), and a bound on what a
    /// hostile token costs.
    public static let maxTokenLength = 16 * 1024

    private let defaultKey: VerificationKey
    private let keysByID: [String: [VerificationKey]]

    /// Nil without any key.
    public init?(defaultKey: VerificationKey?, keySet: [(id: String, key: VerificationKey)]) {
        guard let defaultKey = defaultKey ?? keySet.first?.key else { return nil }
        self.defaultKey = defaultKey
        // RFC 7517 lets keys of different types share a `kid`; the token's `alg` then chooses.
        self.keysByID = Dictionary(keySet.map { ($0.id, [$0.key]) }, uniquingKeysWith: +)
    }

    /// The token's claims, once its form, its key and its signature check out.
    public func verify(_ token: String) throws(TokenError) -> JSONObject {
        var token = token
        return try token.withUTF8 { utf8 in
            Result { () throws(TokenError) in try self.verify(UnsafeRawBufferPointer(utf8)) }
        }.get()
    }

    private func verify(_ token: UnsafeRawBufferPointer) throws(TokenError) -> JSONObject {
        guard token.count <= Self.maxTokenLength else { throw .tooLong }
        let dot = UInt8(ascii: ".")
        guard let firstDot = token.firstIndex(of: dot),
            let secondDot = token[(firstDot + 1)...].firstIndex(of: dot),
            !token[(secondDot + 1)...].contains(dot)
        else { throw .notThreeParts }

        let header = try Self.jsonObject(token[..<firstDot])
        let key = try self.key(for: header)
        guard let signature = Base64URL.decode(token[(secondDot + 1)...]) else { throw .notBase64URL }
        guard key.isValidSignature(signature, for: UnsafeRawBufferPointer(rebasing: token[..<secondDot])) else {
            throw .badSignature
        }
        return try Self.jsonObject(token[(firstDot + 1)..<secondDot])
    }

    private func key(for header: JSONObject) throws(TokenError) -> VerificationKey {
        guard let algorithm = header["alg"]?.string else { throw .noAlgorithm }
        guard header["crit"]?.isNull ?? true else { throw .criticalExtension }
        var candidates = [self.defaultKey]
        if let kid = header["kid"], !kid.isNull {
            guard let id = kid.string else { throw .keyIDNotAString }
            if !self.keysByID.isEmpty {
                guard let keys = self.keysByID[id] else { throw .unknownKeyID }
                candidates = keys
            }
        }
        guard let key = candidates.first(where: { $0.algorithm.rawValue == algorithm }) else {
            throw algorithm == "none" ? .unsigned : .algorithmNotTheKeys
        }
        return key
    }

    private static func jsonObject(_ part: Slice<UnsafeRawBufferPointer>) throws(TokenError) -> JSONObject {
        guard let bytes = Base64URL.decode(part) else { throw .notBase64URL }
        do {
            return try JSONObject(parsing: ByteBuffer(bytes: bytes))
        } catch {
            throw .notJSONObject
        }
    }
}
