public import ChorusCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The hub's sync collections: the store, and each event loop's subscribers. Every committed
/// change is encoded once as a `sync_change` frame and crosses to each loop once, in version
/// order: this node's commits and, in a cluster, other nodes' announcements go through one
/// ``SyncOrder``, which reads from the store what arrived out of order or not at all.
final class SyncService: Sendable {
    let store: any SyncStore
    private let subscribers: [ObjectIdentifier: SyncSubscribers]
    private let loops: [SyncSubscribers]
    /// Locked while a step is handed to the loops too, so steps reach them in order.
    private let order = NIOLockedValueBox(SyncOrder<ByteBuffer>())
    private let logger: Logger

    init(store: any SyncStore, loops: [any EventLoop], logger: Logger = Logger(label: "chorus.sync")) {
        self.store = store
        self.logger = logger
        self.loops = loops.map { SyncSubscribers(eventLoop: $0) }
        self.subscribers = Dictionary(uniqueKeysWithValues: self.loops.map { (ObjectIdentifier($0.eventLoop), $0) })
        store.onCommit { [weak self] change in
            self?.received(change.collection, version: change.version, frame: Self.frame(change))
        }
    }

    /// The subscribers of the connections on `loop`.
    func subscribers(on loop: any EventLoop) -> SyncSubscribers {
        self.subscribers[ObjectIdentifier(loop)]!
    }

    /// A change committed on another node (announced; `json` is its `sync_change` frame, nil
    /// when it was too large to announce).
    func announced(_ collection: String, version: UInt64, json: ByteBuffer?) {
        let frame = json.map { json in
            WebSocketFrameEncoding.textFrame(allocator: ByteBufferAllocator(), capacity: json.readableBytes) { $0.writeImmutableBuffer(json) }
        }
        self.received(collection, version: version, frame: frame)
    }

    /// The announcements were not heard for a while (the listener is back): reads what every
    /// followed collection missed.
    func resume() {
        self.order.withLockedValue { order in
            for (collection, since) in order.resume() { self.fill(collection, since: since) }
        }
    }

    /// A subscriber of `collection` is about to read it (see ``SyncOrder/subscribing(_:)``).
    func subscribing(_ collection: String) {
        self.order.withLockedValue { $0.subscribing(collection) }
    }

    /// That subscriber's read answered at `version`, or failed (nil).
    func answered(_ collection: String, at version: UInt64?) {
        self.order.withLockedValue { order in
            self.run(collection, version.map { order.answered(collection, at: $0) } ?? order.abandoned(collection))
        }
    }

    private func received(_ collection: String, version: UInt64, frame: ByteBuffer?) {
        self.order.withLockedValue { order in
            self.run(collection, order.received(collection, version: version, frame: frame))
        }
    }

    /// Hands a step's changes to every loop, and starts its read; under the order's lock.
    private func run(_ collection: String, _ step: SyncOrder<ByteBuffer>.Step) {
        let changes: [(version: UInt64, frame: ByteBuffer)]
        switch step {
        case .wait: return
        case .deliver(let delivered): changes = delivered
        case .fill(let since, let first):
            changes = first
            self.fill(collection, since: since)
        }
        guard !changes.isEmpty else { return }
        let encoded = changes.map { SyncSubscribers.Change(collection: collection, version: $0.version, frame: $0.frame) }
        for loop in self.loops {
            loop.enqueue(encoded)
        }
    }

    /// Reads the changes after `since` from the store, retrying while it fails; when the log no
    /// longer holds them, the collection's subscribers on this node start again.
    private func fill(_ collection: String, since: UInt64) {
        Task {
            var changes: (version: UInt64, changes: [SyncChange])?
            while true {
                do {
                    changes = try await self.store.changes(of: collection, since: since)
                    break
                } catch {
                    self.logger.warning("sync: reading missed changes failed; trying again", metadata: ["collection": "\(collection)", "error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
            let frames = changes.map { $0.changes.map { (version: $0.version, frame: Self.frame($0)) } }
            self.order.withLockedValue { order in
                self.run(collection, order.filled(collection, with: frames))
                if frames == nil {
                    self.logger.warning("sync: changes missed by this node are no longer kept; its subscribers start again", metadata: ["collection": "\(collection)"])
                    for loop in self.loops { loop.eventLoop.execute { loop.restart(collection: collection) } }
                }
            }
        }
    }

    private static func frame(_ change: SyncChange) -> ByteBuffer {
        WebSocketFrameEncoding.textFrame(allocator: ByteBufferAllocator(), capacity: 160 + (change.data?.readableBytes ?? 0)) { buffer in
            change.writeFrame(into: &buffer)
        }
    }

    /// The namespace options of a collection; `forbidden` when its namespace has no sync.
    static func options(of collection: Topic, in configuration: HubConfiguration) throws(ProtocolError) -> NamespaceOptions {
        guard let options = configuration.namespace(of: collection), options.sync else {
            throw ProtocolError(.forbidden, "namespace '\(collection.namespace)' has no sync collections (its option \"sync\" is not true)")
        }
        return options
    }
}

extension SyncRefusal {
    /// The error a refused mutation gets (a conflict's `current` is sent beside it).
    var protocolError: ProtocolError {
        switch self {
        case .conflict(let current):
            if let current { return ProtocolError(.conflict, "record '\(current.id)' is at version \(current.version)") }
            return ProtocolError(.conflict, "the record does not exist (any more)")
        case .notFound(let id): return ProtocolError(.notFound, "no record '\(id)'")
        case .recordTooLarge(let size, let limit): return ProtocolError(.tooLarge, "record data is \(size) bytes; the namespace allows \(limit) (sync_max_record_size)")
        case .collectionFull(let limit): return ProtocolError(.tooLarge, "the collection holds \(limit) records, its most (sync_max_records)")
        case .invalid(let message): return ProtocolError(.badRequest, message)
        }
    }
}
