public import ChorusCore
public import Foundation
public import NIOCore

/// A `signal` from another connection (WebRTC offers, answers, candidates, or the application's
/// own data): docs/protocol.md "Signalling".
public struct ChorusSignal: Sendable {
    /// Who sent it: its user and its client id (the one to signal back).
    public var from: MessageSender
    /// The `data` as JSON, exactly as sent.
    public var data: ByteBuffer

    /// A signal from its fields.
    public init(from: MessageSender, data: ByteBuffer) {
        self.from = from
        self.data = data
    }

    /// ``data`` as JSON text.
    public var dataJSON: String { String(buffer: self.data) }

    /// Decodes ``data`` as `type`.
    public func decode<Value: Decodable>(_ type: Value.Type = Value.self, using decoder: JSONDecoder = JSONDecoder()) throws -> Value {
        try decoder.decode(type, from: Data(self.data.readableBytesView))
    }
}

extension ChorusClient {
    /// Sends `data` to the one connection `client` (a presence member's client id); returns once
    /// the hub accepted it. A target that is not present in a presence topic this client is
    /// present in, has gone, or is this client throws ``ChorusClientError/Code/notFound``.
    /// Signals from one client to another arrive in the order they were sent.
    public func signal(to client: String, data: some Encodable & Sendable) async throws {
        _ = try await self.request(.signal(to: client, data: try Self.json(data)))
    }

    /// The signals other connections send this one, in the order they arrive (which is the
    /// order each sender sent them), until the client closes or the stream is dropped.
    public func signals() -> AsyncStream<ChorusSignal> {
        let id = self.newStreamID()
        return self.signalStreams.add(id: id) { Task { await self.removeSignalStream(id) } }
    }

    func removeSignalStream(_ id: Int) { self.signalStreams.remove(id) }
}
