/// Where the redirect listener (`tls_redirect_port`) sends a plain HTTP request: the same
/// host, path and query as `https://` on the hub's TLS port.
enum HTTPSRedirect {
    /// The `Location` for a request with `hostHeader` and `uri` (origin form, `/path?query`).
    /// A missing or malformed `Host` gives `fallbackHost` (the configured one), so the header
    /// cannot inject anything into the URL; an absolute or odd `uri` gives `/`.
    static func location(hostHeader: String?, uri: String, fallbackHost: String, port: Int) -> String {
        let host = hostHeader.flatMap(Self.hostName(ofHostHeader:)) ?? Self.bracketed(fallbackHost)
        let path = uri.hasPrefix("/") && !uri.hasPrefix("//") ? uri : "/"
        return port == 443 ? "https://\(host)\(path)" : "https://\(host):\(port)\(path)"
    }

    /// `example.com:8080` → `example.com`, `[::1]:80` → `[::1]`; nil unless it is a host name
    /// or an IP address, with or without a port.
    static func hostName(ofHostHeader header: String) -> String? {
        if header.hasPrefix("[") {
            guard let close = header.firstIndex(of: "]") else { return nil }
            let address = header[header.index(after: header.startIndex)..<close]
            let rest = header[header.index(after: close)...]
            guard !address.isEmpty, address.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }),
                rest.isEmpty || Self.isPort(rest.dropFirst()) && rest.hasPrefix(":")
            else { return nil }
            return "[\(address)]"
        }
        let parts = header.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let name = parts[0]
        guard !name.isEmpty, name.count <= 253, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }),
            parts.count == 1 || Self.isPort(parts[1])
        else { return nil }
        return String(name)
    }

    private static func isPort(_ text: Substring) -> Bool {
        !text.isEmpty && text.count <= 5 && text.allSatisfy(\.isASCII) && text.allSatisfy(\.isNumber)
    }

    private static func bracketed(_ host: String) -> String {
        host.contains(":") ? "[\(host)]" : host
    }
}
