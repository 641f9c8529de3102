public import ChorusCore
import Logging

extension Hub {
    /// This node as `/api/nodes` shows it.
    public func localNodeInfo() -> NodeInfo {
        self.node.info(connections: self.metrics.connectionCount)
    }

    /// Every live node: the cluster's, when the hub has a node directory, else this one. This
    /// node is listed as it is now (not as its last heartbeat said), even before that beat.
    public func nodes() async throws -> [NodeInfo] {
        let local = self.localNodeInfo()
        guard let directory = self.nodeDirectory else { return [local] }
        let others = try await directory.nodes().filter { $0.id != local.id }
        return (others + [local]).sorted { $0.id < $1.id }
    }
}

extension Hub {
    /// After the broker was cut off from the cluster for a while (its Redis subscription came
    /// back): what other nodes published meanwhile never reached this node, so every client
    /// is closed with `reconnect: true` (reason `resync`) and comes back with `since`,
    /// recovering it from the shared history, or is told `recovered: false` when that is gone
    /// too. Never a silent gap.
    func resynchronizeClients() {
        self.logger.warning("the cluster connection was lost and is back: clients reconnect to recover what they missed")
        for shard in self.shards {
            shard.enqueue(
                .disconnectAll(
                    code: .goingAway, reason: .resync, message: "this node lost its cluster connection for a while; reconnect to recover missed messages",
                    reconnect: true
                )
            )
        }
    }
}
