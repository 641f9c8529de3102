public import ChorusCore
import Foundation
import NIOCore

/// The hub's `ack` of a publish or a direct message.
public struct PublishAck: Sendable, Hashable {
    /// The message's id.
    public var messageID: String?
    /// Its offset, for a topic with history.
    public var offset: UInt64?
    /// That history's epoch.
    public var epoch: String?
    /// The namespace's WebAssembly transform dropped the message: it was neither stored nor
    /// delivered to anyone (docs/wasm.md).
    public var dropped: Bool

    /// An `ack`'s fields.
    public init(messageID: String?, offset: UInt64?, epoch: String?, dropped: Bool = false) {
        self.messageID = messageID
        self.offset = offset
        self.epoch = epoch
        self.dropped = dropped
    }

    init(_ reply: ServerFrame) throws {
        guard case .ack(let messageID, let offset, let epoch, let dropped) = reply else {
            throw ChorusClientError(.invalidJSON, "expected an ack")
        }
        self.init(messageID: messageID, offset: offset, epoch: epoch, dropped: dropped)
    }
}

extension ChorusClient {
    /// Publishes `data` (any `Encodable`) to `topic` and returns the hub's `ack`.
    ///
    /// The publish waits in the client's queue until it is acknowledged: made while offline,
    /// it is sent once connected; sent on a connection that drops before the `ack`, it is sent
    /// again on the next one, with the same idempotency key, so the hub delivers it once. With
    /// ``Configuration/queueFile`` the queue survives the application's restart.
    @discardableResult
    public func publish(topic: String, event: String = "message", data: some Encodable & Sendable, idempotencyKey: String? = nil) async throws -> PublishAck {
        try await self.publish(topic: topic, event: event, json: try Self.json(data), idempotencyKey: idempotencyKey)
    }

    /// Publishes `json`, a JSON value as it will be delivered, byte for byte.
    @discardableResult
    public func publish(topic: String, event: String = "message", json: RawJSON, idempotencyKey: String? = nil) async throws -> PublishAck {
        try Self.check(topic: topic, idempotencyKey: idempotencyKey)
        return try await self.publish(QueuedPublish(key: idempotencyKey ?? QueuedPublish.newKey(), topic: topic, event: event, data: json.text))
    }

    /// Publishes `bytes` as a binary message (a binary WebSocket frame, docs/protocol.md "Binary
    /// frames"): subscribers get them as they are, queued and resent like any publish.
    @discardableResult
    public func publish(topic: String, event: String = "message", bytes: some Sequence<UInt8>, idempotencyKey: String? = nil) async throws -> PublishAck {
        try Self.check(topic: topic, idempotencyKey: idempotencyKey)
        return try await self.publish(QueuedPublish(key: idempotencyKey ?? QueuedPublish.newKey(), topic: topic, event: event, bytes: bytes))
    }

    private static func check(topic: String, idempotencyKey: String?) throws {
        do {
            _ = try Topic(topic)
        } catch {
            throw ChorusClientError(.badRequest, "invalid topic: \(error.description)")
        }
        if let key = idempotencyKey, key.isEmpty || key.utf8.count > PublishFrame.maxIdempotencyKeyLength {
            throw ChorusClientError(.badRequest, "an idempotency key is 1 to \(PublishFrame.maxIdempotencyKeyLength) bytes long")
        }
    }

    private func publish(_ entry: QueuedPublish) async throws -> PublishAck {
        try self.enqueue(entry)
        return try await withCheckedThrowingContinuation { continuation in
            self.publishWaiters[entry.key, default: []].append(continuation)
            self.pump()
        }
    }

    /// Queues `entry` for sending without waiting for its `ack` (it is sent, and resent, all the
    /// same). For scripts that publish a batch, and for tests.
    public func enqueue(_ entry: QueuedPublish) throws {
        switch self.queue.enqueue(entry) {
        case .rejected:
            throw ChorusClientError(.queueFull, "the queue holds \(self.queue.limit) unacknowledged publishes")
        case .droppedOldest(let dropped):
            if self.sentCount > 0 { self.sentCount -= 1 }
            for waiter in self.publishWaiters.removeValue(forKey: dropped.key) ?? [] {
                waiter.resume(throwing: ChorusClientError(.queueDropped, "dropped from the full queue"))
            }
        case .queued:
            break
        }
        self.saveQueue()
        self.pump()
    }

    /// Sends every queued publish not yet sent on this connection, oldest first. Those sent form
    /// a prefix of the queue (entries leave it, and come at its end, in order), so only what
    /// follows ``sentCount`` is new.
    func pump() {
        guard self.link?.openedAt != nil else { return }
        while self.sentCount < self.queue.count {
            let entry = self.queue.entries[self.queue.entries.startIndex + self.sentCount]
            guard let frame = Self.frame(of: entry) else {
                // Only a queue file edited by hand gets here: the entry could never be sent.
                self.publishAnswered(entry.key, reply: .error(ProtocolError(.badRequest, "queued publish is not valid")))
                continue
            }
            self.sentCount += 1
            let id = self.newRequestID()
            self.pending[id] = .publish(key: entry.key)
            self.write(.publish(frame), id: id, flush: false)
        }
        self.flush()
    }

    /// The `publish` frame of a queued entry; nil when the entry is not valid.
    private static func frame(of entry: QueuedPublish) -> PublishFrame? {
        guard let topic = try? Topic(entry.topic) else { return nil }
        if entry.encoding == "base64" {
            guard let bytes = Data(base64Encoded: entry.data), let null = try? RawJSON.parsing("null") else { return nil }
            var frame = PublishFrame(topic: topic, event: entry.event, data: null, idempotencyKey: entry.key)
            frame.binaryData = ByteBuffer(bytes: bytes)
            return frame
        }
        guard entry.encoding == nil, let data = try? RawJSON.parsing(entry.data) else { return nil }
        return PublishFrame(topic: topic, event: entry.event, data: data, idempotencyKey: entry.key)
    }

    func publishAnswered(_ key: String, reply: ServerFrame) {
        if case .error(let error) = reply, error.code == .unavailable {
            // The hub is shutting down and did not store it: the next connection sends it again.
            return
        }
        guard let index = self.queue.remove(key: key) else { return }
        if index < self.sentCount { self.sentCount -= 1 }
        self.saveQueue()
        let waiters = self.publishWaiters.removeValue(forKey: key) ?? []
        let result: Result<PublishAck, any Error>
        if let error = ChorusClientError(reply: reply) {
            result = .failure(error)
        } else {
            result = Result { try PublishAck(reply) }
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    func saveQueue() {
        self.stats.queued = self.queue.count
        // A failed write leaves the old file: at worst a publish is sent again after a restart,
        // and its idempotency key keeps the hub from delivering it twice.
        try? self.outbox?.save(Array(self.queue.entries))
    }
}
