public import ChorusCore
public import CoreMetrics
import Foundation
public import Logging
import NIOCore
public import ServiceLifecycle
import ChorusSQLite
import NIOCore
import Synchronization

/// The event bus (docs/event-bus.md): the publish path (validation, schemas, group commit,
/// durable before the publisher is answered), the consumers' definitions and one dispatcher
/// task per enabled consumer, and retention, as one `Service` of the hub's group.
///
/// Embedding apps reach it as ``ChorusServer/events``: ``publish(_:)`` events and
/// ``register(handler:named:)`` the in-process handlers `{"handler": "name"}` consumers name.
public final class EventBus: Service, Sendable {
    /// What the bus needs of the hub's configuration.
    public struct Options: Sendable {
        /// A repeated `event_id` within it is a duplicate (milliseconds).
        public var idempotencyWindow: Int64 = 3_600_000
        /// Largest `data` of one event, in bytes.
        public var maxDataSize = 65_536
        /// What retention removes.
        public var retention = EventRetention(maxAge: 7 * 86_400_000)
        /// How often retention runs (milliseconds).
        public var retentionInterval: Int64 = 60_000
        /// Schemas from configuration, by type: their JSON text.
        public var schemas: [String: String] = [:]
        /// Consumers from configuration.
        public var consumers: [EventConsumer] = []
        /// This node's id (lease holder).
        public var node = "node"
        /// The dispatchers' timing.
        var timing = EventDispatcher.Timing()

        /// Defaults.
        public init() {}
    }

    private struct RunningConsumer {
        var consumer: EventConsumer
        /// From `event_consumers` (not saved by the API).
        var configured: Bool
        var dispatcher: EventDispatcher?
        var task: Task<Void, Never>?
    }

    private struct RegisteredSchema {
        var schema: JSONSchema
        var source: String
        var configured: Bool
    }

    private struct State {
        var store: (any EventStore)?
        var committer: EventCommitter?
        var consumers: [String: RunningConsumer] = [:]
        var schemas: [String: RegisteredSchema] = [:]
        var running = false
        /// Stopped (or failed to start): calls fail at once.
        var stopped = false
        /// Reloads the consumers' transform modules: started with the first consumer that has
        /// one (so a bus without any neither polls nor handles SIGHUP), cancelled at stop.
        var watchingTransforms: Task<Void, Never>?
    }

    /// The options it was made with.
    public let options: Options
    let metrics: EventBusMetrics
    private let openStore: @Sendable () throws -> any EventStore
    private let makeTarget: @Sendable (EventConsumer, EventHandlers) -> any EventTarget
    private let liveNodes: @Sendable () async -> Int
    private let waitForStore: @Sendable () async throws -> Void
    private let clock: @Sendable () -> Int64
    private let handlers = EventHandlers()
    private let state = Mutex(State())
    private let logger: Logger

    /// A bus; nothing is opened before ``run()``.
    /// - Parameters:
    ///   - openStore: the durable store, opened when the bus starts.
    ///   - makeTarget: where a consumer's deliveries go (``EventBus/targets(hub:webhook:)`` for the hub's).
    ///   - liveNodes: how many nodes share the store (a partition share is `ceil(P / nodes)`).
    ///   - waitForStore: returns once the store can be used (PostgreSQL: migrated).
    ///   - clock: milliseconds since the Unix epoch.
    public init(
        options: Options,
        openStore: @escaping @Sendable () throws -> any EventStore,
        makeTarget: @escaping @Sendable (EventConsumer, EventHandlers) -> any EventTarget,
        liveNodes: @escaping @Sendable () async -> Int = { 1 },
        waitForStore: @escaping @Sendable () async throws -> Void = {},
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger = Logger(label: "chorus.events"),
        clock: @escaping @Sendable () -> Int64 = EventBus.systemClock
    ) throws(ConfigurationError) {
        self.options = options
        self.openStore = openStore
        self.makeTarget = makeTarget
        self.liveNodes = liveNodes
        self.waitForStore = waitForStore
        self.metrics = EventBusMetrics(factory: metricsFactory)
        self.logger = logger
        self.clock = clock
        var schemas: [String: RegisteredSchema] = [:]
        for (type, source) in options.schemas {
            schemas[type] = RegisteredSchema(schema: try Self.compile(source, type: type), source: source, configured: true)
        }
        let consumers = Dictionary(options.consumers.map { ($0.name, RunningConsumer(consumer: $0, configured: true)) }) { _, second in second }
        self.state.withLock {
            $0.schemas = schemas
            $0.consumers = consumers
        }
    }

    /// The wall clock, in milliseconds since the Unix epoch.
    public static let systemClock: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Registers the in-process handler `{"handler": name}` consumers deliver to.
    public func register(handler: @escaping EventHandler, named name: String) {
        self.handlers.register(handler, named: name)
    }

    // MARK: Publishing

    /// Validates `events`, checks their data against their types' schemas, appends them
    /// (gathered with concurrent publishes into one transaction) and returns their receipts
    /// once committed. A repeated `event_id` gets the original's receipt, `duplicate: true`.
    /// - Throws: `ProtocolError` (bad input: `bad_request`, `too_large`; not running:
    ///   `unavailable`; the store failed: `internal`) or ``EventSchemaViolation``.
    public func publish(_ events: [EventPublish]) async throws -> [EventReceipt] {
        let now = self.clock()
        let committer = try await self.running().committer
        let validated = try self.validated(events, now: now)
        do {
            return self.published(try await committer.append(validated))
        } catch {
            throw self.appendFailed(error)
        }
    }

    /// ``publish(_:)`` without a task while the bus runs: `completion` gets the receipts (or
    /// the error ``publish(_:)`` would throw) on the committer's thread, or at once for bad
    /// input. While the bus starts, a task waits for it as ``publish(_:)`` does.
    func publish(_ events: [EventPublish], completion: @escaping @Sendable (Result<[EventReceipt], any Error>) -> Void) {
        let now = self.clock()
        guard let committer = self.state.withLock({ $0.committer }) else {
            Task {
                do {
                    completion(.success(try await self.publish(events)))
                } catch {
                    completion(.failure(error))
                }
            }
            return
        }
        let validated: [Event]
        do {
            validated = try self.validated(events, now: now)
        } catch {
            return completion(.failure(error))
        }
        committer.append(validated) { result in
            completion(result.map { self.published($0) }.mapError { self.appendFailed($0) })
        }
    }

    /// `events` checked, and their data against their types' schemas.
    private func validated(_ events: [EventPublish], now: Int64) throws -> [Event] {
        let schemas = self.state.withLock { $0.schemas }
        var validated: [Event] = []
        for publish in events {
            let event = try publish.validated(maxDataSize: self.options.maxDataSize, now: now)
            if let registered = schemas[event.type] {
                // `validated` checked the data is one JSON value.
                let violations = registered.schema.validate(try JSONValue(parsing: event.data))
                guard violations.isEmpty else { throw EventSchemaViolation(type: event.type, violations: violations) }
            }
            validated.append(event)
        }
        return validated
    }

    /// Counts what a commit appended; returns its receipts.
    private func published(_ receipts: [EventReceipt]) -> [EventReceipt] {
        self.metrics.eventsPublished(receipts.filter { !$0.duplicate }.count)
        return receipts
    }

    /// The error a publisher gets when the store could not append.
    private func appendFailed(_ error: any Error) -> ProtocolError {
        self.logger.error("event bus: append failed: \(error)")
        return ProtocolError(.internal, "the events could not be stored: \(error)")
    }

    /// ``publish(_:)`` of one event.
    public func publish(_ event: EventPublish) async throws -> EventReceipt {
        try await self.publish([event])[0]
    }

    // MARK: Service

    /// Opens the store, loads saved definitions, starts a dispatcher per enabled consumer and
    /// retention; at graceful shutdown stops the dispatchers (releasing their leases).
    public func run() async throws {
        do {
            try await self.serve()
        } catch {
            self.state.withLock { $0.stopped = true }
            throw error
        }
    }

    private func serve() async throws {
        // A shared store starts with its own service (PostgreSQL migrates first); when that fails
        // the group shuts down, and so does this wait, quietly: the store's service says why.
        let store: any EventStore
        do {
            store = try await cancelWhenGracefulShutdown {
                try await self.waitForStore()
                let store = try self.openStore()
                try await self.loadSavedDefinitions(from: store)
                return store
            }
        } catch {
            guard Task.isShuttingDownGracefully || Task.isCancelled else { throw error }
            self.state.withLock { $0.stopped = true }
            return
        }
        let committer = EventCommitter(store: store, idempotencyWindow: self.options.idempotencyWindow, clock: self.clock) { [weak self] in
            self?.wakeAll()
        }
        self.state.withLock {
            $0.store = store
            $0.committer = committer
            $0.running = true
        }
        for name in self.state.withLock({ Array($0.consumers.keys) }) { self.restart(name) }
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: .milliseconds(self.options.retentionInterval))
                await self.retain(store)
            }
        }
        let tasks = self.state.withLock { state in
            state.running = false
            state.stopped = true
            state.store = nil
            state.committer = nil
            state.watchingTransforms?.cancel()
            state.watchingTransforms = nil
            return state.consumers.values.compactMap { running -> Task<Void, Never>? in
                running.dispatcher?.stop()
                return running.task
            }
        }
        for task in tasks { await task.value }
        if let sqlite = store as? any ClosableEventStore { try? sqlite.close() }
    }

    /// Reloads the consumers' transform modules whose file changed (every one, with `force`);
    /// one that fails to load is logged and the previous one keeps running.
    func reloadTransforms(force: Bool) {
        let consumers = self.state.withLock { $0.consumers.values.map(\.consumer) }.sorted { $0.name < $1.name }
        for consumer in consumers {
            guard let transform = consumer.transform,
                let result = TransformWatch.reload(transform.loaded, force: force, logger: self.logger, metadata: ["consumer": "\(consumer.name)"])
            else { continue }
            self.metrics.transformReload(result, consumer: consumer.name)
        }
    }

    /// One retention pass: trims the log and forgets ids past the idempotency window.
    func retain(_ store: any EventStore) async {
        let now = self.clock()
        do {
            let trimmed = try await store.trim(self.options.retention, now: now)
            let forgotten = try await store.forgetEventIDs(seenBefore: now - self.options.idempotencyWindow)
            if trimmed > 0 || forgotten > 0 {
                self.logger.debug("event retention", metadata: ["trimmed": "\(trimmed)", "forgotten_ids": "\(forgotten)"])
            }
        } catch {
            self.logger.warning("event retention failed: \(error)")
        }
    }

    /// The store and committer while the bus runs; `unavailable` otherwise. A call in the
    /// moment between the listener's start and the bus's (the services of a group start
    /// together) waits for it, at most ``startWait``.
    private func running() async throws -> (store: any EventStore, committer: EventCommitter) {
        let deadline = ContinuousClock.now + Self.startWait
        while true {
            let (store, committer, stopped) = self.state.withLock { ($0.store, $0.committer, $0.stopped) }
            if let store, let committer { return (store, committer) }
            guard !stopped, ContinuousClock.now < deadline else { throw ProtocolError(.unavailable, "the event bus is not running") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// How long a call made while the bus starts waits for it.
    static let startWait = Duration.seconds(10)

    /// The store while the bus runs; `unavailable` otherwise.
    func runningStore() async throws -> any EventStore {
        try await self.running().store
    }

    /// Wakes every dispatcher, higher priority first (new events, retried dead letters, a replay).
    /// - Parameter reload: deliveries older than those a dispatcher holds may have come (a
    ///   replay, retried dead letters): see ``EventDispatcher/wake(reload:)``.
    func wakeAll(reload: Bool = false) {
        let dispatchers = self.state.withLock { state in
            state.consumers.values.sorted { $0.consumer.priority > $1.consumer.priority }.compactMap(\.dispatcher)
        }
        for dispatcher in dispatchers { dispatcher.wake(reload: reload) }
    }

    /// (Re)starts the dispatcher of consumer `name` from its current definition (none when disabled).
    private func restart(_ name: String) {
        self.state.withLock { state in
            guard var running = state.consumers[name] else { return }
            running.dispatcher?.stop()
            let old = running.task
            running.dispatcher = nil
            running.task = nil
            if state.running, running.consumer.enabled, let store = state.store {
                let consumer = running.consumer
                var target = self.makeTarget(consumer, self.handlers)
                if let transform = consumer.transform {
                    target = TransformingTarget(target: target, transform: transform, maxSize: self.options.maxDataSize, metrics: self.metrics)
                    if state.watchingTransforms == nil {
                        state.watchingTransforms = Task {
                            await TransformWatch.run(every: .seconds(1)) { force in self.reloadTransforms(force: force) }
                        }
                    }
                }
                let dispatcher = EventDispatcher(
                    consumer: consumer, store: store, target: target, node: self.options.node,
                    liveNodes: self.liveNodes, clock: self.clock, timing: self.options.timing, metrics: self.metrics, logger: self.logger
                ) { [weak self] name in await self?.disable(name) }
                running.dispatcher = dispatcher
                running.task = Task {
                    await old?.value
                    await dispatcher.run()
                }
            }
            state.consumers[name] = running
        }
    }

    /// A 410: the consumer is disabled durably (its definition saved with `enabled: false`).
    private func disable(_ name: String) async {
        guard var consumer = self.state.withLock({ $0.consumers[name]?.consumer }) else { return }
        consumer.enabled = false
        do {
            try await self.save(consumer)
        } catch {
            self.logger.error("event consumer '\(name)': cannot save it disabled: \(error)")
        }
    }

    /// Reads the consumers and schemas the API saved, trying again (after 0.1 s, doubling up to
    /// 5 s) while the store cannot answer: PostgreSQL can go away just after it was found ready,
    /// and that must leave the hub running, its bus unavailable meanwhile, not stop it.
    private func loadSavedDefinitions(from store: any EventStore) async throws {
        var delay = Duration.milliseconds(100)
        while true {
            do {
                return try await self.readSavedDefinitions(from: store)
            } catch {
                // A hub stopping (its port taken, a signal) cancels the read: that is no failure to report.
                guard !Task.isCancelled, !Task.isShuttingDownGracefully else { throw error }
                self.logger.warning("event bus: cannot read the saved consumers and schemas yet, trying again in \(delay): \(error)")
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    private func readSavedDefinitions(from store: any EventStore) async throws {
        for saved in try await store.definitions(.schema) {
            do {
                let schema = try Self.compile(saved.body, type: saved.name)
                self.state.withLock { $0.schemas[saved.name] = RegisteredSchema(schema: schema, source: saved.body, configured: false) }
            } catch {
                self.logger.error("saved schema of '\(saved.name)' is ignored: \(error.message)")
            }
        }
        for saved in try await store.definitions(.consumer) {
            do {
                let consumer = try EventConsumer(parsing: ByteBuffer(string: saved.body), name: saved.name)
                self.state.withLock { $0.consumers[saved.name] = RunningConsumer(consumer: consumer, configured: false) }
            } catch {
                self.logger.error("saved consumer '\(saved.name)' is ignored: \(error)")
            }
        }
    }

    static func compile(_ source: String, type: String) throws(ConfigurationError) -> JSONSchema {
        do {
            return try JSONSchema(parsing: ByteBuffer(string: source))
        } catch {
            throw ConfigurationError("schema of '\(type)': \(error.description)")
        }
    }

    // MARK: Definitions (the API's consumers and schemas)

    /// The consumers, by name, and whether each comes from configuration.
    public func consumers() -> [(consumer: EventConsumer, configured: Bool)] {
        self.state.withLock { $0.consumers.values.map { ($0.consumer, $0.configured) } }.sorted { $0.consumer.name < $1.consumer.name }
    }

    /// Saves `consumer` durably (it then overrides a configured one of its name) and (re)starts its dispatcher.
    public func save(_ consumer: EventConsumer) async throws {
        let store = try await self.runningStore()
        try await store.saveDefinition(.consumer, name: consumer.name, body: consumer.definitionJSON, now: self.clock())
        self.state.withLock { $0.consumers[consumer.name] = RunningConsumer(consumer: consumer, configured: false) }
        self.restart(consumer.name)
    }

    /// Removes a consumer the API saved, and its durable state (deliveries, dead letters);
    /// false when there is none. A configured consumer cannot be removed (`bad_request`).
    public func removeConsumer(_ name: String) async throws -> Bool {
        let store = try await self.runningStore()
        guard let running = self.state.withLock({ $0.consumers[name] }) else { return false }
        guard !running.configured else {
            throw ProtocolError(.badRequest, "consumer '\(name)' is defined in the configuration (event_consumers): change it there")
        }
        running.dispatcher?.stop()
        await running.task?.value
        self.state.withLock { _ = $0.consumers.removeValue(forKey: name) }
        try await store.removeDefinition(.consumer, name: name)
        try await store.removeConsumerState(name)
        return true
    }

    /// The schemas, by type: their JSON text and whether each comes from configuration.
    public func schemas() -> [(type: String, source: String, configured: Bool)] {
        self.state.withLock { $0.schemas.map { ($0.key, $0.value.source, $0.value.configured) } }.sorted { $0.type < $1.type }
    }

    /// Registers `source` as the schema of `type`, durably; `bad_request` when it does not compile.
    public func saveSchema(_ source: String, type: String) async throws {
        let store = try await self.runningStore()
        do {
            _ = try Topic(type)
        } catch {
            throw ProtocolError(.badRequest, "invalid event type \(ProtocolError.quoted(type)): \(error.description)")
        }
        let schema: JSONSchema
        do {
            schema = try Self.compile(source, type: type)
        } catch {
            throw ProtocolError(.badRequest, error.message)
        }
        try await store.saveDefinition(.schema, name: type, body: source, now: self.clock())
        self.state.withLock { $0.schemas[type] = RegisteredSchema(schema: schema, source: source, configured: false) }
    }

    /// Removes the schema of `type` the API saved; false when there is none.
    public func removeSchema(_ type: String) async throws -> Bool {
        let store = try await self.runningStore()
        guard let registered = self.state.withLock({ $0.schemas[type] }) else { return false }
        guard !registered.configured else {
            throw ProtocolError(.badRequest, "the schema of '\(type)' is defined in the configuration (event_schemas): change it there")
        }
        try await store.removeDefinition(.schema, name: type)
        self.state.withLock { _ = $0.schemas.removeValue(forKey: type) }
        return true
    }
}

/// A store the bus closes when it stops (SQLite checkpoints its WAL).
protocol ClosableEventStore: EventStore {
    func close() throws
}

extension SQLiteEventStore: ClosableEventStore {}
