import ChorusCore
import NIOCore

/// `signal`: WebRTC signalling (offers, answers, ICE candidates) relayed to exactly one
/// connection, by client id, between two clients present in a common presence topic (peers find
/// each other through presence). The target gets `signal` {`from`, `data`}; the sender an `ack`,
/// or `not_found` when the target shares no presence topic with it (it left, or is gone).
///
/// In order per sender–receiver pair: the sender's frames are served in order on its loop, and
/// each relay is queued to the target's loop behind the ones before it. In a cluster the
/// directory routes it (one Redis script, answered in order) through the target node's signal
/// channel, which that node reads in order.
struct SignalFeature: ConnectionFeature {
    var frames: [FrameRoute] { [FrameRoute("signal", limit: .publishRatePerConnection)] }

    func receive(_ frame: ClientFrame, id: RawJSON?, on connection: WebSocketConnection) {
        guard case .signal(let target, let data) = frame, let directory = connection.hub.presence else { return }
        let hub = connection.hub
        guard data.bytes.readableBytes <= hub.configuration.maxPublishSize else {
            return connection.replyError(ProtocolError(.tooLarge, "signal data is \(data.bytes.readableBytes) bytes; the limit is \(hub.configuration.maxPublishSize)"), id: id)
        }
        let sender = connection.info.sender
        let relay = WebSocketFrameEncoding.textFrame(allocator: ByteBufferAllocator(), capacity: data.bytes.readableBytes + 96) { buffer in
            ServerFrame.signal(from: sender, data: data.bytes).write(into: &buffer)
        }
        let answer = connection.answerLater(id: id)
        guard target != sender.client else { return answer(.failure(Self.notFound(target))) }
        directory.routeSignal(relay, from: sender.client, to: target, on: connection.shard.eventLoop).whenComplete { result in
            switch result {
            case .success(.relayed):
                answer(.success(.ack(messageID: nil, offset: nil, epoch: nil)))
            case .success(.local) where hub.send(relay, toClient: target):
                answer(.success(.ack(messageID: nil, offset: nil, epoch: nil)))
            case .success:
                answer(.failure(Self.notFound(target)))
            case .failure(let error):
                answer(.failure(ProtocolError(.unavailable, "presence is unavailable: \(error)")))
            }
        }
    }

    private static func notFound(_ target: String) -> ProtocolError {
        ProtocolError(.notFound, "client \(ProtocolError.quoted(target)) is not present in a presence topic you are present in")
    }
}
