import ChorusCore

/// `direct`: a message to every connection of a user, where the client may send one.
struct DirectFeature: ConnectionFeature {
    var frames: [FrameRoute] { [FrameRoute("direct", limit: .publishRatePerConnection)] }

    func receive(_ frame: ClientFrame, id: RawJSON?, on connection: WebSocketConnection) {
        guard case .direct(let user, let event, let data) = frame else { return }
        do {
            try connection.access.authorizeDirect()
            let receipt = try connection.hub.send(toUser: user, event: event, data: data.bytes, from: connection.info.sender)
            connection.reply(.ack(messageID: receipt.messageID, offset: nil, epoch: nil), id: id)
        } catch {
            connection.replyError(error, id: id)
        }
    }
}
