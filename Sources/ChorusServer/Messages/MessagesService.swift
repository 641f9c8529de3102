public import ChorusCore
import ChorusSQLite
import Foundation
public import Logging
import NIOCore
public import ServiceLifecycle
import Synchronization

/// The messages resource (`/api/messages`, docs/event-bus.md "The messages resource"): each
/// change is committed to its store, then published on the bus as `message.sent`,
/// `message.updated` or `message.deleted`; the built-in bridge consumer ``bridgeConsumer``
/// carries those to the `messages…` topics.
///
/// The store is the outbox: a change whose event could not be published (the bus failed, the
/// process died in between) stays unpublished and is published by the sweep, at start and
/// every ``sweepInterval``. Event ids are the message id and version, so publishing one twice
/// is one event (the bus's idempotency).
public final class MessagesService: Service, Sendable {
    private let bus: EventBus
    private let openStore: @Sendable () throws -> any ChatMessageStore
    private let waitForStore: @Sendable () async throws -> Void
    private let clock: @Sendable () -> Int64
    private let logger: Logger
    private let state = Mutex<(store: (any ChatMessageStore)?, stopped: Bool)>((nil, false))

    /// How often unpublished changes are looked for.
    static let sweepInterval = Duration.seconds(1)

    /// A service; nothing is opened before ``run()``.
    public init(
        bus: EventBus, openStore: @escaping @Sendable () throws -> any ChatMessageStore,
        waitForStore: @escaping @Sendable () async throws -> Void = {}, logger: Logger = Logger(label: "chorus.messages"),
        clock: @escaping @Sendable () -> Int64 = EventBus.systemClock
    ) {
        self.bus = bus
        self.openStore = openStore
        self.waitForStore = waitForStore
        self.logger = logger
        self.clock = clock
    }

    /// The consumer that bridges the messages' events to their topics: `messages`,
    /// `messages.user.{sender}`, `messages.user.{recipient}`, `messages.channel.{channel}` (a
    /// template whose member is absent makes no topic). Ordered: a conversation's changes
    /// (its partition key) reach the topics in order.
    public static let bridgeConsumer: EventConsumer = {
        let definition = """
            {"name": "messages", "types": ["message.*"], "ordering": "ordered",
             "target": {"bridge": {"topics": ["messages", "messages.user.{data.sender}", "messages.user.{data.recipient_id}",
                                              "messages.channel.{data.channel_id}"]}}}
            """
        return try! EventConsumer(parsing: ByteBuffer(string: definition))
    }()

    // MARK: Service

    /// Opens the store, publishes what a previous run left unpublished, and sweeps until the
    /// graceful shutdown.
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await self.waitForStore() }
        } catch {
            self.state.withLock { $0.stopped = true }
            guard Task.isShuttingDownGracefully || Task.isCancelled else { throw error }
            return
        }
        let store: any ChatMessageStore
        do {
            store = try self.openStore()
        } catch {
            self.state.withLock { $0.stopped = true }
            throw error
        }
        self.state.withLock { $0.store = store }
        try? await cancelWhenGracefulShutdown {
            while true {
                await self.sweep(store)
                try await Task.sleep(for: Self.sweepInterval)
            }
        }
        self.state.withLock {
            $0.store = nil
            $0.stopped = true
        }
        if let sqlite = store as? SQLiteChatMessageStore { try? sqlite.close() }
    }

    /// Publishes every unpublished change (the outbox).
    func sweep(_ store: any ChatMessageStore) async {
        do {
            while true {
                let waiting = try await store.unpublished(limit: 100)
                var published = 0
                for message in waiting {
                    if await self.publish(message, store: store) { published += 1 }
                }
                // A full page all published: there may be more. What failed waits for the next sweep.
                guard waiting.count == 100, published == waiting.count else { return }
            }
        } catch {
            self.logger.warning("messages: the outbox could not be read: \(error)")
        }
    }

    /// Publishes the event of `message`'s last change and marks it published; false when the
    /// bus refused it (the sweep tries again).
    @discardableResult
    private func publish(_ message: ChatMessage, store: any ChatMessageStore) async -> Bool {
        let event = EventPublish(
            type: message.eventType, data: message.json, eventID: message.eventID, partitionKey: message.partitionKey)
        do {
            _ = try await self.bus.publish(event)
            try await store.markPublished(message.id, version: message.version)
            return true
        } catch let violation as EventSchemaViolation {
            self.logger.error("messages: the event of \(message.id) fails the schema of \(message.eventType): \(violation.protocolError.message)")
        } catch {
            self.logger.warning("messages: the event of \(message.id) v\(message.version) is not published yet: \(error)")
        }
        return false
    }

    /// The store while the service runs; `unavailable` otherwise (a call while it starts waits).
    func running() async throws -> any ChatMessageStore {
        let deadline = ContinuousClock.now + EventBus.startWait
        while true {
            let (store, stopped) = self.state.withLock { ($0.store, $0.stopped) }
            if let store { return store }
            guard !stopped, ContinuousClock.now < deadline else { throw ProtocolError(.unavailable, "the messages resource is not running") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    // MARK: Changes

    /// Stores `message` and publishes its `message.sent`.
    public func send(_ message: NewChatMessage) async throws -> ChatMessage {
        let store = try await self.running()
        let stored = try await Self.stored { try await store.insert(message, now: self.clock()) }
        await self.publish(stored, store: store)
        return stored
    }

    /// Applies `patch` and publishes `message.updated`; nil when there is no such message.
    public func update(_ id: String, _ patch: ChatMessagePatch) async throws -> ChatMessage? {
        let store = try await self.running()
        guard let changed = try await Self.stored({ try await store.update(id, patch, now: self.clock()) }) else { return nil }
        await self.publish(changed, store: store)
        return changed
    }

    /// Deletes the message and publishes `message.deleted`; nil when there is no such message.
    public func delete(_ id: String) async throws -> ChatMessage? {
        let store = try await self.running()
        guard let deleted = try await Self.stored({ try await store.delete(id, now: self.clock()) }) else { return nil }
        await self.publish(deleted, store: store)
        return deleted
    }

    /// The message `id` (tombstones included).
    public func message(_ id: String) async throws -> ChatMessage? {
        let store = try await self.running()
        return try await Self.stored { try await store.message(id) }
    }

    /// Messages as `query` selects, newest first.
    public func messages(_ query: ChatMessageQuery) async throws -> [ChatMessage] {
        let store = try await self.running()
        return try await Self.stored { try await store.messages(query) }
    }

    /// A store call whose failure is `internal` for the API.
    private static func stored<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw ProtocolError(.internal, "the messages store failed: \(error)")
        }
    }
}
