import ChorusCore

/// A frame type the application handles itself (`chat:send`, `typing:start`, …).
///
/// Handlers run on the connection's event loop and must not block. Throw a ``ProtocolError``
/// to answer with an `error` frame; return a ``ServerFrame`` to answer with it, or nil to
/// answer with a plain `ack`.
public typealias CustomFrameHandler = @Sendable (CustomFrameContext) throws(ProtocolError) -> ServerFrame?

/// What a ``CustomFrameHandler`` is given.
public struct CustomFrameContext: Sendable {
    public let hub: Hub
    public let connection: ConnectionInfo
    public let type: String
    /// Every field of the frame, `type` and `id` included.
    public let fields: JSONObject
}
