import ChorusCore
import Foundation
import Synchronization

/// This process as a node: its id, since when it runs, and where it can be reached. The id
/// tells nodes apart in `/api/nodes`, in logs and in a cluster's shared state.
public final class LocalNode: Sendable {
    /// `node_id`, or the host name and a random suffix: a restarted process is a new node.
    public let id: String
    /// When this process's hub started, in milliseconds since 1970.
    public let startedAt: Int64
    /// `node_address`, else the address the listener bound (set once it listens).
    private let address: Mutex<String?>

    init(configuration: HubConfiguration, now: Date = Date()) {
        self.id = configuration.nodeID ?? Self.generatedID()
        self.startedAt = Int64(now.timeIntervalSince1970 * 1000)
        self.address = Mutex(configuration.nodeAddress)
    }

    /// Where this node can be reached, when known.
    public var reachableAt: String? { self.address.withLock { $0 } }

    /// Records the address the listener bound, unless `node_address` set one. A wildcard
    /// address (all interfaces) is no address to reach: the host name stands for it.
    func listening(host: String, port: Int) {
        let reachable = ["0.0.0.0", "::", "[::]"].contains(host) ? ProcessInfo.processInfo.hostName : host
        let address = reachable.contains(":") && !reachable.hasPrefix("[") ? "[\(reachable)]:\(port)" : "\(reachable):\(port)"
        self.address.withLock { current in
            if current == nil { current = address }
        }
    }

    /// The node as `/api/nodes` shows it, with `connections` open.
    func info(connections: Int) -> NodeInfo {
        NodeInfo(id: self.id, address: self.reachableAt, connections: connections, startedAt: self.startedAt)
    }

    /// `HOST-xxxxxx`: readable in a listing, unique across restarts.
    static func generatedID() -> String {
        let suffix = String(UInt32.random(in: 0...0xFF_FFFF), radix: 16)
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node"
        return "\(host)-\(String(repeating: "0", count: 6 - suffix.count))\(suffix)"
    }
}
