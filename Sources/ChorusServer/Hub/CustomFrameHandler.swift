public import ChorusCore
public import NIOCore

/// A frame type the application handles itself (`chat:send`, `typing:start`, …).
///
/// Handlers run on the connection's event loop and must not block. Throw a ``ProtocolError``
/// to answer with an `error` frame; return a ``ServerFrame`` to answer with it, or nil to
/// answer with a plain `ack`.
public typealias CustomFrameHandler = @Sendable (CustomFrameContext) throws(ProtocolError) -> ServerFrame?

/// What a ``CustomFrameHandler`` is given.
public struct CustomFrameContext: Sendable {
    /// The hub itself, for deliberate server-side actions: what a handler does through it is
    /// not checked against the client's rights. To act on the client's behalf, use
    /// ``publish(topic:event:data:)`` and ``send(toUser:event:data:)``.
    public let hub: Hub
    /// The connection that sent the frame.
    public let connection: ConnectionInfo
    /// The frame's `type`.
    public let type: String
    /// Every field of the frame, `type` and `id` included.
    public let fields: JSONObject
    /// What the client may do; nil when nothing restricts it.
    let access: TopicAccess?

    /// Publishes as the client would: refused (`forbidden`) where the client's own `publish`
    /// would be, and sent `from` the client.
    /// - Returns: the message id.
    @discardableResult
    public func publish(topic: Topic, event: String?, data: ByteBuffer) throws(ProtocolError) -> String {
        try self.access.authorizePublish(to: topic)
        return try self.hub.publish(topic: topic, event: event, data: data, from: self.connection.sender)
    }

    /// Sends a direct message as the client would: refused (`forbidden`) where the client's own
    /// `direct` would be.
    public func send(toUser user: String, event: String?, data: ByteBuffer) throws(ProtocolError) -> Hub.Receipt {
        try self.access.authorizeDirect()
        return try self.hub.send(toUser: user, event: event, data: data, from: self.connection.sender)
    }
}
