import Foundation

/// A URL with an optional `{topic}` placeholder, e.g. `ws://127.0.0.1:8081/sub/{topic}` (Nchan:
/// the topic is in the URL) or `ws://127.0.0.1:8080/ws` (Chorus: subscribing is a frame).
/// `ws://` means a WebSocket; `http://` means an event stream (subscribers) or a POST target
/// (publishers); `wss://` and `https://` are the same over TLS (``BenchTLS``).
public struct EndpointTemplate: Codable, Equatable, Sendable {
    public enum Scheme: String, Codable, Sendable {
        case ws, http
    }

    public var scheme: Scheme
    /// `wss://` or `https://`: the connection starts with a TLS handshake.
    public var tls: Bool
    public var host: String
    public var port: Int
    /// Path and query, with `{topic}` where the topic goes.
    public var target: String

    public static let placeholder = "{topic}"

    public init(_ text: String) throws(BenchError) {
        guard let separator = text.range(of: "://") else {
            throw BenchError("'\(text)' is not a URL (expected ws://HOST:PORT/PATH or http://HOST:PORT/PATH)")
        }
        var schemeText = text[..<separator.lowerBound].lowercased()
        let tls = schemeText == "wss" || schemeText == "https"
        if tls { schemeText.removeLast() }
        guard let scheme = Scheme(rawValue: schemeText) else {
            throw BenchError("'\(text)': only ws://, wss://, http:// and https:// URLs are supported")
        }
        let rest = text[separator.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        let target = String(rest.dropFirst(authority.count))
        let hostAndPort = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let host = hostAndPort.first, !host.isEmpty else { throw BenchError("'\(text)' names no host") }
        var port = tls ? 443 : 80
        if hostAndPort.count == 2 {
            guard let parsed = Int(hostAndPort[1]), (1...65535).contains(parsed) else {
                throw BenchError("'\(text)': '\(hostAndPort[1])' is not a port")
            }
            port = parsed
        }
        self.scheme = scheme
        self.tls = tls
        self.host = String(host)
        self.port = port
        self.target = target.isEmpty ? "/" : (target.hasPrefix("?") ? "/" + target : target)
    }

    /// A comma-separated list of URLs (the nodes of a cluster), at least one.
    public static func list(_ text: String) throws(BenchError) -> [EndpointTemplate] {
        var endpoints: [EndpointTemplate] = []
        for url in text.split(separator: ",", omittingEmptySubsequences: false) {
            endpoints.append(try EndpointTemplate(String(url.trimmingCharacters(in: .whitespaces))))
        }
        return endpoints
    }

    public var hasTopic: Bool { self.target.contains(Self.placeholder) }

    public func target(topic: String) -> String {
        self.hasTopic ? self.target.replacingOccurrences(of: Self.placeholder, with: topic) : self.target
    }

    public var hostHeader: String { self.port == (self.tls ? 443 : 80) ? self.host : "\(self.host):\(self.port)" }
}

extension EndpointTemplate: CustomStringConvertible {
    /// The URL, as given (with `{topic}` where the topic goes).
    public var description: String { "\(self.scheme.rawValue)\(self.tls ? "s" : "")://\(self.host):\(self.port)\(self.target)" }
}
