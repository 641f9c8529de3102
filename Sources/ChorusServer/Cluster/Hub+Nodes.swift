public import ChorusCore

extension Hub {
    /// This node as `/api/nodes` shows it.
    public func localNodeInfo() -> NodeInfo {
        self.node.info(connections: self.metrics.connectionCount)
    }

    /// Every live node: the cluster's, when the hub has a node directory, else this one.
    public func nodes() async throws -> [NodeInfo] {
        guard let directory = self.nodeDirectory else { return [self.localNodeInfo()] }
        return try await directory.nodes()
    }
}
