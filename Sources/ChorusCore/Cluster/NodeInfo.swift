/// One hub process of a cluster, as `GET /api/nodes` lists it.
public struct NodeInfo: Sendable, Equatable {
    /// The node's id (`node_id`, or generated at start: host name and a random suffix).
    public var id: String
    /// Where the node can be reached (`node_address`, or the address it listens on); nil when
    /// it is not known (a hub mounted in an application that did not say).
    public var address: String?
    /// Client connections (WebSocket and SSE) open on the node.
    public var connections: Int
    /// When the node started, in milliseconds since 1970.
    public var startedAt: Int64

    /// A node `id`, reachable at `address`, with `connections` open, started at `startedAt` (ms since 1970).
    public init(id: String, address: String?, connections: Int, startedAt: Int64) {
        self.id = id
        self.address = address
        self.connections = connections
        self.startedAt = startedAt
    }
}

/// Knows every live node of a cluster: where `GET /api/nodes` looks beyond this process. A
/// cluster keeps one (nodes register with a heartbeat; a dead node drops out within seconds);
/// a single process needs none.
public protocol NodeDirectory: Sendable {
    /// Every live node, this one included.
    func nodes() async throws -> [NodeInfo]

    /// Which of `users` have a connection open on some node of the cluster (Web Push's "no
    /// open connection" for a cluster).
    func connectedUsers(among users: Set<String>) async throws -> Set<String>
}

extension NodeDirectory {
    /// A directory that knows no users: only this node's connections count.
    public func connectedUsers(among users: Set<String>) async throws -> Set<String> { [] }
}
