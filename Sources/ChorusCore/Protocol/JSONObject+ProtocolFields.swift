/// Typed access to the fields of a request object, with the protocol's error messages.
extension JSONObject {
    /// The value of `key`; `bad_request` when it is missing.
    public func required(_ key: String) throws(ProtocolError) -> RawJSON {
        guard let value = self[key] else { throw ProtocolError(.badRequest, "missing field '\(key)'") }
        return value
    }

    /// The string value of `key`; `bad_request` when it is missing or not a string.
    public func requiredString(_ key: String) throws(ProtocolError) -> String {
        guard let value = try self.optionalString(key) else {
            throw ProtocolError(.badRequest, "missing field '\(key)'")
        }
        return value
    }

    /// The string field `key`, nil when absent (or null, unless `allowingNull` is false: the HTTP
    /// API's schema has no nullable strings, so there a null is refused like any other non-string).
    public func optionalString(_ key: String, allowingNull: Bool = true) throws(ProtocolError) -> String? {
        guard let value = self[key], !(allowingNull && value.isNull) else { return nil }
        guard let string = value.string else { throw ProtocolError(.badRequest, "field '\(key)' must be a string") }
        return string
    }

    /// `idempotency_key`: a non-empty string of at most ``PublishFrame/maxIdempotencyKeyLength``
    /// bytes (the hub remembers it, so its size is bounded).
    public func idempotencyKey(allowingNull: Bool = true) throws(ProtocolError) -> String? {
        guard let key = try self.optionalString("idempotency_key", allowingNull: allowingNull) else { return nil }
        return try PublishFrame.checkIdempotencyKey(key)
    }

    /// The topic named by `key`; `bad_request` when it is missing or not a valid topic.
    public func topic(_ key: String) throws(ProtocolError) -> Topic {
        let name = try self.requiredString(key)
        do {
            return try Topic(name)
        } catch {
            if (try? TopicPattern(name))?.isWildcard == true {
                throw ProtocolError(.badRequest, "cannot publish to a pattern: '\(name)'")
            }
            throw ProtocolError(.badRequest, "invalid topic: \(error.description)")
        }
    }

    /// The topic pattern named by `key`; `bad_request` when it is missing or not a valid pattern.
    public func pattern(_ key: String) throws(ProtocolError) -> TopicPattern {
        let text = try self.requiredString(key)
        do {
            return try TopicPattern(text)
        } catch {
            throw ProtocolError(.badRequest, "invalid topic: \(error.description)")
        }
    }

    /// Where a `subscribe` resumes (`key`, usually `since`); nil when absent, `bad_request` when malformed.
    public func recoveryPosition(_ key: String) throws(ProtocolError) -> RecoveryPosition? {
        guard let value = self[key], !value.isNull else { return nil }
        let since: JSONObject
        do {
            since = try value.object()
        } catch {
            throw ProtocolError(.badRequest, "field '\(key)' must be an object")
        }
        if let ts = since["ts"] {
            guard let milliseconds = ts.int64 else { throw ProtocolError(.badRequest, "'\(key).ts' must be an integer") }
            return .timestamp(milliseconds: milliseconds)
        }
        guard let offset = since["offset"]?.int64, offset >= 0 else {
            throw ProtocolError(.badRequest, "'\(key).offset' must be a non-negative integer")
        }
        return .offset(UInt64(offset), epoch: try since.optionalString("epoch") ?? "")
    }
}
