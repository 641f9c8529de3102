import Foundation

/// Which push endpoints the hub sends to: `https://` URLs on a host name, at most 2048 bytes.
/// An IP address or `localhost` is refused, so a subscription cannot aim the hub's requests at
/// its own machine or network; `allowLoopbackHTTP` (`push_allow_loopback_http`, for a local
/// push-service stand-in) admits `http://` and `https://` on a loopback address as well.
public enum PushEndpoint {
    /// The longest endpoint accepted.
    public static let maxLength = 2048

    /// Throws, saying why, unless `endpoint` may receive push requests.
    public static func validate(_ endpoint: String, allowLoopbackHTTP: Bool) throws(WebPushError) {
        guard endpoint.utf8.count <= Self.maxLength else {
            throw WebPushError("endpoint is longer than \(Self.maxLength) bytes")
        }
        guard let url = URLComponents(string: endpoint), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(),
            !host.isEmpty, url.user == nil, url.password == nil
        else {
            throw WebPushError("endpoint must be an absolute https:// URL")
        }
        let loopback = Self.isLoopback(host)
        if allowLoopbackHTTP, loopback, scheme == "http" || scheme == "https" { return }
        guard scheme == "https" else {
            throw WebPushError("endpoint must be an https:// URL (http:// only on a loopback address with push_allow_loopback_http)")
        }
        guard !loopback, !Self.isAddress(host) else {
            throw WebPushError("endpoint must name a push service by host name, not an address or localhost")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
    }

    /// An IPv4 literal (digits and dots) or IPv6 literal (has a colon).
    static func isAddress(_ host: String) -> Bool {
        host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
    }
}
