import ChorusCore

/// Frame types the application handles itself (``CustomFrameHandler``): every `type` no
/// feature of the hub claims comes here, and one without a handler is `unknown_type`.
struct CustomFramesFeature: ConnectionFeature {
    let handlers: [String: CustomFrameHandler]

    /// None of its own: ``ConnectionFeatures`` routes it whatever no other feature serves.
    var frames: [FrameRoute] { [] }

    func receive(_ frame: ClientFrame, id: RawJSON?, on connection: WebSocketConnection) {
        guard case .custom(let type, let fields) = frame else { return }
        guard let handler = self.handlers[type] else {
            return connection.replyError(ProtocolError(.unknownType, "no handler for frame type '\(type)'"), id: id)
        }
        do {
            let answer = try handler(CustomFrameContext(hub: connection.hub, connection: connection.info, type: type, fields: fields, access: connection.access))
            connection.reply(answer ?? .ack(messageID: nil, offset: nil, epoch: nil), id: id)
        } catch {
            connection.replyError(error, id: id)
        }
    }
}
