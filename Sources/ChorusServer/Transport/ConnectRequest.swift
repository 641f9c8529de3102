import Foundation
import Hummingbird
import HummingbirdCore
import NIOHTTP1

/// What a WebSocket or SSE connection takes from the HTTP request that opened it.
///
/// A class, so a connection holds one reference until it has acted on the request and drops it.
final class ConnectRequest: Sendable {
    /// `?topic=` values, subscribed at connect time.
    let topics: [String]
    /// From `Authorization: Bearer`, else `?token=`, else the `chorus_token` cookie.
    let token: String?
    let lastEventID: String?
    let origin: String?
    let remoteAddress: String?
    /// `?binary=1`: the WebSocket client takes binary messages as binary frames (else as JSON,
    /// their data base64).
    let acceptsBinary: Bool

    init(head: HTTPRequestHead, remoteAddress: String?) {
        let uri = URI(head.uri)
        let query = uri.queryParameters
        self.topics = query.getAll("topic").map { String($0) }
        self.lastEventID = head.headers["last-event-id"].first
        self.origin = head.headers["origin"].first
        self.remoteAddress = remoteAddress
        self.acceptsBinary = query.get("binary").map { $0 == "1" || $0 == "true" } ?? false
        if let authorization = head.headers["authorization"].first, authorization.lowercased().hasPrefix("bearer ") {
            self.token = String(String(authorization.dropFirst("bearer ".count)).trimmingSpaces())
        } else if let token = query.get("token"), !token.isEmpty {
            self.token = String(token)
        } else {
            self.token = Self.cookie(named: "chorus_token", in: head.headers)
        }
    }

    private static func cookie(named name: String, in headers: HTTPHeaders) -> String? {
        for header in headers["cookie"] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                    return String(parts[1]).trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }
}
