import ChorusCore
import NIOCore

/// This process's subscribers behind the broker: each message is encoded once (for every
/// transport), numbered, and handed to every event loop's shard.
struct ShardDelivery: BrokerDelivery {
    let shards: [LoopShard]
    /// Numbers each fan-out, so a connection that several subscriptions match gets it once.
    let deliveries = SequenceCounter()

    func deliver(_ message: BrokerMessage) {
        let work = self.work(for: message)
        for shard in self.shards {
            shard.enqueue(work)
        }
    }

    /// Encoded on one event loop, not on the caller's thread (a store's committer, which then
    /// only hands over); a single loop keeps batches in order. One hop per loop per batch.
    func deliver(contentsOf messages: [BrokerMessage]) {
        self.shards[0].eventLoop.execute {
            let work = messages.map(self.work(for:))
            for shard in self.shards { shard.enqueue(contentsOf: work) }
        }
    }

    private func work(for message: BrokerMessage) -> LoopShard.Work {
        switch message.target {
        case .topic(let topic):
            .topic(self.outbound(message, topic: topic))
        case .user(let user):
            .user(user, self.outbound(message, topic: nil))
        case .disconnect(let user, let reason, let reconnect):
            .disconnectUser(user, message: reason, reconnect: reconnect)
        }
    }

    /// Encodes once and numbers the delivery; a nil topic is a direct message. The SSE event is
    /// left out while no SSE stream is open (most hubs serve WebSocket only).
    private func outbound(_ message: BrokerMessage, topic: Topic?) -> OutboundMessage {
        OutboundMessage(
            envelope: message.envelope,
            topic: topic,
            sequence: self.deliveries.next(),
            storeSequence: message.storeSequence,
            excludedConnection: message.excludedConnection,
            encodingSSE: self.shards[0].metrics.sseConnectionCount > 0,
            allocator: ByteBufferAllocator()
        )
    }
}
