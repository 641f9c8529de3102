import Foundation

/// The address a client connects from, as per-IP limits and logs see it.
enum ClientAddress {
    /// The peer address, or, when the peer is a trusted proxy, the address its
    /// `X-Forwarded-For` header names: walking from the right (the entries the nearest proxies
    /// appended), the first address that is not itself a trusted proxy.
    static func resolve(peer: String?, forwardedFor headers: [String], trustedProxies: Set<String>) -> String? {
        guard let peer, trustedProxies.contains(peer) else { return peer }
        let hops = headers.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var client = peer
        for hop in hops.reversed() {
            client = hop
            if !trustedProxies.contains(hop) { break }
        }
        return client
    }
}
