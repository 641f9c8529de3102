public import ChorusCore
public import NIOCore
import Synchronization

/// Several hubs of one test process joined the way Redis would join them: each hub's broker is
/// a ``LoopbackClusterBroker`` and its history a ``LoopbackHistoryStore`` of one cluster, which
/// routes messages only to the nodes whose interests cover them, always asynchronously (through
/// the cluster's own event loop, like a network round trip), and in one order for every node.
///
/// History is shared and publishes as it commits, as the Redis script will: one place assigns
/// each topic's offsets and the cluster-wide store sequence, appends to one in-memory store and
/// publishes, under one lock, so deliveries follow sequence order. ``delays`` slows position
/// answers, interest confirmations and deliveries down, to race them against each other.
public final class LoopbackCluster: Sendable {
    /// How long the cluster takes to answer; zero still hops through its loop.
    public struct Delays: Sendable {
        /// Before a node's deliveries (each publish routed) arrive.
        public var delivery: TimeAmount = .zero
        /// Before a position (topic offset, store sequence) is read and answered.
        public var position: TimeAmount = .zero
        /// Before a subscription to an interest (or its end) takes effect and is confirmed.
        public var interest: TimeAmount = .zero

        /// No delay beyond one hop.
        public init() {}
    }

    private struct Node {
        let delivery: any BrokerDelivery
        var interests: Set<BrokerInterest> = []
        /// Everything routed to this node, in order.
        var routed: [BrokerMessage] = []
    }

    private struct State {
        var nodes: [Node] = []
        /// Deliveries on their way, in routing order: each scheduled drain takes the oldest.
        var inFlight: [(delivery: any BrokerDelivery, messages: [BrokerMessage])] = []
        var topics: [String: TopicHistoryState] = [:]
        var lastSequence: UInt64 = 0
        var delays = Delays()
    }

    /// The cluster's "network": every answer and delivery hops through it.
    private let loop: any EventLoop
    private let state = Mutex(State())
    /// What every node's history reads.
    private let store = MemoryMessageStore()

    /// A cluster whose answers and deliveries go through `loop` (not one of the hubs').
    public init(loop: any EventLoop) {
        self.loop = loop
    }

    /// How long answers and deliveries take from now on.
    public var delays: Delays {
        get { self.state.withLock { $0.delays } }
        set { self.state.withLock { $0.delays = newValue } }
    }

    /// A new node's broker, reaching `local`, its hub's subscribers: pass as `Hub`'s `broker`.
    public func broker(local: any BrokerDelivery) -> LoopbackClusterBroker {
        let node = self.state.withLock { state in
            state.nodes.append(Node(delivery: local))
            return state.nodes.count - 1
        }
        return LoopbackClusterBroker(cluster: self, node: node)
    }

    /// The history store of node `node` (in order of ``broker(local:)`` calls): shared with
    /// every other node's, publishing as it commits.
    public func historyStore(node: Int) -> LoopbackHistoryStore {
        LoopbackHistoryStore(cluster: self, node: node)
    }

    /// What node `node` (in order of ``broker(local:)`` calls) is subscribed to, once the
    /// interest changes asked for so far took effect.
    public func interests(of node: Int) async throws -> Set<BrokerInterest> {
        try await self.loop.scheduleTask(in: self.delays.interest) {}.futureResult.get()
        return self.state.withLock { $0.nodes[node].interests }
    }

    /// Every message routed to node `node` so far, in order.
    public func routed(to node: Int) -> [BrokerMessage] {
        self.state.withLock { $0.nodes[node].routed }
    }

    // MARK: For the brokers and stores

    func publish(_ messages: [BrokerMessage], from origin: Int) {
        self.state.withLock { self.route(messages, from: origin, in: &$0) }
    }

    /// Takes effect after the interest delay, as a SUBSCRIBE once the server has it: a message
    /// published before then does not reach the node.
    func subscribe(node: Int, to interest: BrokerInterest, answeringOn loop: any EventLoop) -> EventLoopFuture<Void> {
        self.answer(on: loop, after: self.delays.interest) {
            self.state.withLock { _ = $0.nodes[node].interests.insert(interest) }
        }
    }

    /// Takes effect after the interest delay too, so after the subscriptions asked before it.
    func unsubscribe(node: Int, from interest: BrokerInterest) {
        self.loop.scheduleTask(in: self.delays.interest) {
            self.state.withLock { _ = $0.nodes[node].interests.remove(interest) }
        }
    }

    /// Assigns `message` its topic's offset (a new topic: a new epoch) and the next sequence,
    /// stores it and publishes it, in one step.
    func commit(_ append: HistoryAppend, from origin: Int) throws -> BrokerMessage {
        try self.state.withLock { state in
            var message = append.message
            let name = message.envelope.topic
            let isNew = state.topics[name] == nil
            var position = state.topics[name] ?? TopicHistoryState(epoch: "epoch\(state.topics.count + 1)", lastOffset: 0)
            position.lastOffset += 1
            state.lastSequence += 1
            message.envelope.offset = position.lastOffset
            message.envelope.epoch = position.epoch
            message.storeSequence = state.lastSequence
            try self.store.append(
                AppendBatch(
                    messages: [StoredMessage(envelope: message.envelope, sequence: state.lastSequence)],
                    newTopics: isNew ? [name: position.epoch] : [:],
                    lastOffsets: [name: position.lastOffset],
                    keep: [name: append.keep]
                )
            )
            state.topics[name] = position
            self.route([message], from: origin, in: &state)
            return message
        }
    }

    /// `topic`'s position, read after the position delay.
    func position(of topic: String, answeringOn loop: any EventLoop) -> EventLoopFuture<HistoryPosition> {
        self.answer(on: loop, after: self.delays.position) {
            self.state.withLock { HistoryPosition(state: $0.topics[topic], sequence: $0.lastSequence) }
        }
    }

    /// Reads the shared store on the cluster's loop, as a query across the network would.
    func read<Value: Sendable>(answeringOn loop: any EventLoop, _ body: @escaping @Sendable (MemoryMessageStore) throws -> Value) -> EventLoopFuture<Value> {
        let store = self.store
        return self.answer(on: loop, after: .zero) { try body(store) }
    }

    // MARK: Routing

    /// Queues each node's share of `messages` (what its interests cover) and schedules its
    /// delivery; called under the lock, so deliveries keep the order of routing. A connection
    /// to leave out is one of the `origin` node's: another node's of the same number gets it.
    private func route(_ messages: [BrokerMessage], from origin: Int, in state: inout State) {
        for index in state.nodes.indices {
            var share = messages.filter { message in state.nodes[index].interests.contains { $0.covers(message.target) } }
            guard !share.isEmpty else { continue }
            if index != origin {
                for position in share.indices { share[position].excludedConnection = nil }
            }
            state.nodes[index].routed += share
            state.inFlight.append((state.nodes[index].delivery, share))
            self.loop.scheduleTask(in: state.delays.delivery) { self.deliverOldest() }
        }
    }

    private func deliverOldest() {
        let (delivery, messages) = self.state.withLock { $0.inFlight.removeFirst() }
        delivery.deliver(contentsOf: messages)
    }

    /// Runs `body` on the cluster's loop after `delay`, and answers on `loop`.
    private func answer<Value: Sendable>(on loop: any EventLoop, after delay: TimeAmount, _ body: @escaping @Sendable () throws -> Value) -> EventLoopFuture<Value> {
        let promise = loop.makePromise(of: Value.self)
        self.loop.scheduleTask(in: delay) { promise.completeWith(Result(catching: body)) }
        return promise.futureResult
    }
}

/// One node's broker in a ``LoopbackCluster``: publishes to the whole cluster, and receives
/// only what this node subscribed to.
public struct LoopbackClusterBroker: Broker {
    let cluster: LoopbackCluster
    let node: Int

    public func publish(_ message: BrokerMessage) {
        self.cluster.publish([message], from: self.node)
    }

    public func publish(contentsOf messages: [BrokerMessage]) {
        self.cluster.publish(messages, from: self.node)
    }

    public func subscribe(to interest: BrokerInterest, on loop: any EventLoop) -> EventLoopFuture<Void> {
        self.cluster.subscribe(node: self.node, to: interest, answeringOn: loop)
    }

    public func unsubscribe(from interest: BrokerInterest) {
        self.cluster.unsubscribe(node: self.node, from: interest)
    }
}

/// One node's view of a ``LoopbackCluster``'s shared history: commits (and publishes) at once,
/// answers positions and pages through the cluster's loop.
public final class LoopbackHistoryStore: HistoryStore {
    private let cluster: LoopbackCluster
    private let node: Int
    private let onCommit = Mutex<(@Sendable (HistoryCommit) -> Void)?>(nil)

    init(cluster: LoopbackCluster, node: Int) {
        self.cluster = cluster
        self.node = node
    }

    /// Nothing runs in the background: returns once cancelled.
    public func run() async throws {
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(60)) }
    }

    /// Publishing is part of the commit, as with the Redis script.
    public var publishesCommits: Bool { true }

    public func append(_ message: HistoryAppend) {
        let outcome: HistoryCommit
        do {
            let committed = try self.cluster.commit(message, from: self.node)
            message.completion(.success(StoredMessage(envelope: committed.envelope, sequence: committed.storeSequence ?? 0)))
            outcome = .committed([committed])
        } catch {
            message.completion(.failure(StoreError("\(error)")))
            outcome = .failed(StoreError("\(error)"), count: 1)
        }
        self.onCommit.withLock { $0 }?(outcome)
    }

    public func onCommit(_ handler: @escaping @Sendable (HistoryCommit) -> Void) {
        self.onCommit.withLock { $0 = handler }
    }

    public func committedPosition(of topic: String, on loop: any EventLoop) -> EventLoopFuture<HistoryPosition> {
        self.cluster.position(of: topic, answeringOn: loop)
    }

    public func committedSequence(on loop: any EventLoop) -> EventLoopFuture<UInt64> {
        self.cluster.position(of: "", answeringOn: loop).map(\.sequence)
    }

    public func messages(topic: String, after offset: UInt64, limit: Int, maxBytes: Int, on loop: any EventLoop) -> EventLoopFuture<[StoredMessage]> {
        self.cluster.read(answeringOn: loop) { try $0.messages(topic: topic, after: offset, limit: limit, maxBytes: maxBytes) }
    }

    public func messages(topic: String, before offset: UInt64, limit: Int, maxBytes: Int, on loop: any EventLoop) -> EventLoopFuture<[StoredMessage]> {
        self.cluster.read(answeringOn: loop) { try $0.messages(topic: topic, before: offset, limit: limit, maxBytes: maxBytes) }
    }

    public func messages(
        matching patterns: [TopicPattern], afterSequence sequence: UInt64, through last: UInt64, newerThan timestamp: Int64?, limit: Int, maxBytes: Int,
        on loop: any EventLoop
    ) -> EventLoopFuture<[StoredMessage]> {
        self.cluster.read(answeringOn: loop) {
            try $0.messages(matching: patterns, afterSequence: sequence, through: last, newerThan: timestamp, limit: limit, maxBytes: maxBytes)
        }
    }

    public func mayHaveTrimmed(matching patterns: [TopicPattern], newerThan timestamp: Int64, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        self.cluster.read(answeringOn: loop) { try $0.mayHaveTrimmed(matching: patterns, newerThan: timestamp) }
    }
}
