import Foundation

/// A hub's WebSocket address, checked once: `ws://host:port/ws` or `wss://…` (`http:` and
/// `https:` mean the same, as in chorus.js).
public struct HubEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// Whether to speak TLS.
    public var tls: Bool
    /// The host name or address.
    public var host: String
    /// The TCP port.
    public var port: Int
    /// The request target: path and query (`/ws?topic=a`).
    public var target: String

    /// Parses `text`; `bad_url` when it is not a ws, wss, http or https URL with a host.
    public init(_ text: String) throws(ChorusClientError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            throw ChorusClientError(.badURL, "not a URL with a host: '\(text)'")
        }
        switch scheme {
        case "ws", "http": self.tls = false
        case "wss", "https": self.tls = true
        default: throw ChorusClientError(.badURL, "'\(scheme)' is not ws, wss, http or https: '\(text)'")
        }
        self.host = host
        self.port = components.port ?? (self.tls ? 443 : 80)
        let path = components.percentEncodedPath.isEmpty ? "/ws" : components.percentEncodedPath
        self.target = components.percentEncodedQuery.map { "\(path)?\($0)" } ?? path
    }

    /// The `Host` header's value.
    var hostHeader: String {
        let defaultPort = self.tls ? 443 : 80
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return self.port == defaultPort ? host : "\(host):\(self.port)"
    }

    /// The URL's `http(s)://host:port` origin, for the HTTP API.
    public var httpOrigin: String {
        "\(self.tls ? "https" : "http")://\(self.hostHeader)"
    }

    /// The URL as given back in text.
    public var description: String {
        "\(self.tls ? "wss" : "ws")://\(self.hostHeader)\(self.target)"
    }
}
