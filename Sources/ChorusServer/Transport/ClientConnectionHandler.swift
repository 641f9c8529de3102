import ChorusCore
import NIOCore

/// What WebSocket and SSE connections share as channel handlers: registration with their shard,
/// backlog tracking, and how they end (shutdown, peer half-close).
protocol ClientConnectionHandler: ChannelInboundHandler, HubConnection {
    var shard: LoopShard { get }
    var output: ConnectionOutput { get }
    /// Set once the connection is ending; fan-out and sweeps then leave it alone.
    var closing: Bool { get set }
    /// Ends the connection for a graceful shutdown (`disconnect` and 1001).
    func shutDown()
}

extension ClientConnectionHandler {
    func shutDown() {
        self.disconnect(code: .goingAway, reason: "hub shutting down", reconnect: true)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.shard.unregister(self)
        self.output.detach()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closing = true
        self.shard.unregister(self)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.output.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            return self.shutDown()
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            return context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}
