extension RedisConfiguration {
    /// The default port of `redis://` and `rediss://`.
    public static let defaultPort = 6379

    /// A configuration from a URL, other settings at their defaults:
    ///
    /// - `redis://[[user]:password@]host[:port][/db]`: plain TCP; `host` may be `[ipv6]`.
    /// - `rediss://…`: the same over TLS, verified against the system's CAs; `?ca=/path.pem`
    ///   trusts that file's certificates instead, `?insecure=true` checks nothing (tests only).
    /// - `redis+unix://[[user]:password@]/path/to/socket[?db=N]`: a Unix domain socket.
    ///
    /// User and password are percent-decoded. A bad URL throws ``RedisError/Code/invalidURL``
    /// saying what is wrong; the password is never part of the message.
    public init(url: String) throws(RedisError) {
        guard let schemeEnd = url.firstRange(of: "://") else {
            throw RedisError(.invalidURL, "'\(Self.redacted(url))' is not a URL (redis://host:port/db)")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard ["redis", "rediss", "redis+unix"].contains(scheme) else {
            throw RedisError(.invalidURL, "unsupported scheme '\(scheme)' (redis://, rediss://, redis+unix://)")
        }
        var rest = Substring(url[schemeEnd.upperBound...])
        var query: [(String, String)] = []
        if let mark = rest.firstIndex(of: "?") {
            query = try Self.queryItems(rest[rest.index(after: mark)...])
            rest = rest[..<mark]
        }
        // User info ends at the last '@' before the path (a unix URL's path starts with '/').
        let authorityEnd = scheme == "redis+unix" && !rest.hasPrefix("/") ? rest.firstIndex(of: "@").map(rest.index(after:)) ?? rest.endIndex : rest.firstIndex(of: "/") ?? rest.endIndex
        self.init(address: .tcp(host: "", port: Self.defaultPort))
        if let at = rest[..<authorityEnd].lastIndex(of: "@") {
            try self.setCredentials(rest[..<at])
            rest = rest[rest.index(after: at)...]
        }

        if scheme == "redis+unix" {
            guard rest.hasPrefix("/"), rest.count > 1 else {
                throw RedisError(.invalidURL, "redis+unix:// needs the socket's absolute path (redis+unix:///run/redis.sock)")
            }
            self.address = .unixSocket(path: String(rest))
        } else {
            let authority = rest.prefix { $0 != "/" }
            let path = rest.dropFirst(authority.count)
            self.address = try Self.tcpAddress(authority)
            if !(path.isEmpty || path == "/") {
                self.database = try Self.database(path.dropFirst())
            }
        }

        for (name, value) in query {
            switch name {
            case "db":
                self.database = try Self.database(Substring(value))
            case "insecure" where scheme == "rediss":
                guard let insecure = Bool(value) else {
                    throw RedisError(.invalidURL, "insecure must be true or false, not '\(value)'")
                }
                self.tls = TLS(caFile: self.tls?.caFile, verifiesCertificate: !insecure)
            case "ca" where scheme == "rediss":
                guard !value.isEmpty else { throw RedisError(.invalidURL, "ca needs a file path") }
                self.tls = TLS(caFile: value, verifiesCertificate: self.tls?.verifiesCertificate ?? true)
            case "insecure", "ca":
                throw RedisError(.invalidURL, "\(name) applies to rediss:// only")
            default:
                throw RedisError(.invalidURL, "unknown URL parameter '\(name)' (db, ca, insecure)")
            }
        }
        if scheme == "rediss" && self.tls == nil {
            self.tls = TLS()
        }
    }

    private mutating func setCredentials(_ userInfo: Substring) throws(RedisError) {
        guard let colon = userInfo.firstIndex(of: ":") else {
            throw RedisError(.invalidURL, "a user needs a password (redis://user:password@host, or redis://:password@host)")
        }
        let user = try Self.percentDecoded(userInfo[..<colon], "user")
        self.username = user.isEmpty ? nil : user
        self.password = try Self.percentDecoded(userInfo[userInfo.index(after: colon)...], "password")
    }

    private static func tcpAddress(_ authority: Substring) throws(RedisError) -> Address {
        var host: Substring
        var port: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw RedisError(.invalidURL, "an IPv6 address without its closing ']'")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw RedisError(.invalidURL, "'\(after)' after an IPv6 address") }
                port = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else {
            throw RedisError(.invalidURL, "the URL has no host (redis://host:port)")
        }
        guard let port else {
            return .tcp(host: String(host), port: Self.defaultPort)
        }
        guard let number = Int(port), (1...65535).contains(number) else {
            throw RedisError(.invalidURL, "the port '\(port)' is not a number from 1 to 65535")
        }
        host = host.lowercased()[...]
        return .tcp(host: String(host), port: number)
    }

    private static func database(_ text: Substring) throws(RedisError) -> Int {
        guard let number = Int(text), number >= 0 else {
            throw RedisError(.invalidURL, "the database '\(text)' is not a number (redis://host:port/0)")
        }
        return number
    }

    private static func queryItems(_ query: Substring) throws(RedisError) -> [(String, String)] {
        var items: [(String, String)] = []
        for item in query.split(separator: "&") {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try self.percentDecoded(parts[0], "parameter name")
            let value = parts.count > 1 ? try self.percentDecoded(parts[1], "parameter \(name)") : "true"
            items.append((name, value))
        }
        return items
    }

    /// `text` with its `%XX` escapes decoded; an escape that is not two hex digits, or bytes
    /// that are not UTF-8, are an error naming `what`.
    private static func percentDecoded(_ text: Substring, _ what: String) throws(RedisError) -> String {
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else {
                throw RedisError(.invalidURL, "the \(what) has a '%' that is not followed by two hex digits")
            }
            bytes.append(value)
            utf8 = utf8.dropFirst(2)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw RedisError(.invalidURL, "the \(what) is not UTF-8 once decoded")
        }
        return decoded
    }

    /// The URL without its password, for error messages.
    /// `url` without its credentials (`…@host:port/db`), for logs and messages.
    public static func redactedURL(_ url: String) -> String {
        Self.redacted(url)
    }

    private static func redacted(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return url }
        return "…" + url[at...]
    }
}
