import ChorusCore

/// The claims Chorus reads from a verified token: `sub` is the user id; `exp` and `nbf` (seconds
/// since the Unix epoch, fractions allowed) are enforced when present, `iss` and `aud` when the
/// hub is configured to expect them; `subscribe` and `publish`, when present, list the topic
/// patterns the client may use; `direct` (true/false), when present, whether it may send `direct`
/// messages. A claim of the wrong type makes the token invalid whether or not
/// the hub looks at it; `null` counts as absent. Other claims are ignored.
struct TokenClaims {
    var subject: String
    var expiresAt: Double?
    var notBefore: Double?
    var issuer: String?
    /// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
    var audience: [String]?
    var subscribe: [String]?
    var publish: [String]?
    var direct: Bool?

    init(_ claims: JSONObject) throws(ProtocolError) {
        guard let subject = try Self.string(claims, "sub") else { throw Self.invalid("it has no 'sub' claim") }
        self.subject = subject
        self.expiresAt = try Self.seconds(claims, "exp")
        self.notBefore = try Self.seconds(claims, "nbf")
        self.issuer = try Self.string(claims, "iss")
        self.audience = try Self.strings(claims, "aud", allowingOne: true)
        self.subscribe = try Self.strings(claims, "subscribe")
        self.publish = try Self.strings(claims, "publish")
        self.direct = try Self.boolean(claims, "direct")
    }

    /// Who the token says the client is, at `nowSeconds`, for a hub that expects `issuer` and
    /// `audience` when they are set.
    func identity(nowSeconds: Double, issuer: String?, audience: String?) throws(ProtocolError) -> Identity {
        if let expiresAt = self.expiresAt, nowSeconds >= expiresAt {
            throw ProtocolError(.unauthorized, "token rejected: expired", reason: .tokenExpired)
        }
        if let notBefore = self.notBefore, nowSeconds <= notBefore {
            throw ProtocolError(.unauthorized, "token rejected: not valid yet (its 'nbf' is in the future)")
        }
        guard !self.subject.isEmpty else { throw ProtocolError(.unauthorized, "token has an empty 'sub'") }
        if let issuer, self.issuer != issuer {
            throw ProtocolError(.unauthorized, "token rejected: its issuer ('iss') is not the one this hub accepts")
        }
        if let audience, self.audience?.contains(audience) != true {
            throw ProtocolError(.unauthorized, "token rejected: its audience ('aud') does not include this hub")
        }
        let permissions = TokenPermissions(
            subscribe: try TokenPermissions.patterns(self.subscribe, claim: "subscribe"),
            publish: try TokenPermissions.patterns(self.publish, claim: "publish"),
            direct: self.direct
        )
        // A signed token may carry any `exp`; one beyond Int64 milliseconds must not trap (found
        // by fuzzing). An `exp` in the past was refused above, so only the top clamps.
        let expiresAt = self.expiresAt.map { Int64(exactly: ($0 * 1000).rounded(.down)) ?? .max }
        return Identity(user: self.subject, expiresAt: expiresAt, permissions: permissions)
    }

    private static func invalid(_ reason: String) -> ProtocolError {
        ProtocolError(.unauthorized, "invalid token: \(reason)")
    }

    private static func string(_ claims: JSONObject, _ name: String) throws(ProtocolError) -> String? {
        guard let value = claims[name], !value.isNull else { return nil }
        guard let string = value.string else { throw Self.invalid("its '\(name)' claim is not a string") }
        return string
    }

    private static func boolean(_ claims: JSONObject, _ name: String) throws(ProtocolError) -> Bool? {
        guard let value = claims[name], !value.isNull else { return nil }
        guard let flag = value.bool else { throw Self.invalid("its '\(name)' claim is not true or false") }
        return flag
    }

    private static func seconds(_ claims: JSONObject, _ name: String) throws(ProtocolError) -> Double? {
        guard let value = claims[name], !value.isNull else { return nil }
        guard let seconds = value.double, seconds.isFinite else { throw Self.invalid("its '\(name)' claim is not a finite number") }
        return seconds
    }

    private static func strings(_ claims: JSONObject, _ name: String, allowingOne: Bool = false) throws(ProtocolError) -> [String]? {
        guard let value = claims[name], !value.isNull else { return nil }
        if allowingOne, let string = value.string { return [string] }
        let elements = value.elements ?? []
        let strings = elements.compactMap(\.string)
        guard value.kind == .array, strings.count == elements.count else {
            throw Self.invalid("its '\(name)' claim is not \(allowingOne ? "a string or " : "")a list of strings")
        }
        return strings
    }
}
