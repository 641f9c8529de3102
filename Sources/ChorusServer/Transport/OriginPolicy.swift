/// Which browser origins may use the hub (`allowed_origins`).
struct OriginPolicy: Sendable {
    let allowed: [String]

    var allowsAny: Bool { self.allowed.contains("*") }

    /// Requests without an `Origin` come from non-browser clients, which CORS does not concern.
    func permits(_ origin: String?) -> Bool {
        guard let origin else { return true }
        return self.allowsAny || self.allowed.contains(origin)
    }

    /// The `Access-Control-Allow-Origin` value to answer `origin` with, if any.
    func allowOriginHeader(for origin: String?) -> String? {
        if self.allowsAny { return "*" }
        guard let origin, self.allowed.contains(origin) else { return nil }
        return origin
    }
}
