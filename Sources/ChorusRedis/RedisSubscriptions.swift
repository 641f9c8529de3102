import NIOCore
import Synchronization

/// What a ``RedisSubscriber`` is subscribed to, and the connection it last subscribed on.
///
/// The sets are what the caller asked for; the server is told each change as it happens,
/// and everything again on a new connection. Changes are written through the event loop's
/// task queue while the lock is held, so the server sees them in the order they were made
/// whichever threads made them.
final class RedisSubscriptions: Sendable {
    enum Kind: CaseIterable {
        case channel, pattern, shard

        var subscribe: String {
            switch self {
            case .channel: "SUBSCRIBE"
            case .pattern: "PSUBSCRIBE"
            case .shard: "SSUBSCRIBE"
            }
        }

        var unsubscribe: String {
            switch self {
            case .channel: "UNSUBSCRIBE"
            case .pattern: "PUNSUBSCRIBE"
            case .shard: "SUNSUBSCRIBE"
            }
        }
    }

    private struct State {
        var channel: (any Channel)?
        var names: [Kind: Set<String>] = [:]
    }

    private let state = Mutex(State())
    private let onMessage: RedisSubscriber.MessageHandler

    init(onMessage: @escaping RedisSubscriber.MessageHandler) {
        self.onMessage = onMessage
    }

    /// Adds (or removes) `names`; tells the server about those that changed. `confirmed`, when
    /// given, completes once the server has the change (a `PING` answered after it), or fails
    /// with ``RedisError/Code/notConnected`` while no connection is up (the change is kept,
    /// and made on the next connection).
    func change(_ kind: Kind, _ names: [String], subscribing: Bool, confirmed: EventLoopPromise<Void>? = nil) {
        self.state.withLock { state in
            let changed = names.filter { name in
                subscribing ? state.names[kind, default: []].insert(name).inserted : state.names[kind]?.remove(name) != nil
            }
            guard let channel = state.channel, channel.isActive else {
                confirmed?.fail(RedisError(.notConnected, "not connected to Redis"))
                return
            }
            let command = changed.isEmpty ? nil : RESPCommand(subscribing ? kind.subscribe : kind.unsubscribe, changed.map { .string($0) })
            let ping = confirmed.map { confirmed in
                let ping = channel.eventLoop.makePromise(of: RESPValue.self)
                ping.futureResult.whenComplete { confirmed.completeWith($0.map { _ in () }) }
                return ping
            }
            guard command != nil || ping != nil else { return }
            channel.eventLoop.execute {
                if let command { channel.send(.command(command, nil)) }
                if let ping { channel.send(.command(RESPCommand("PING"), ping)) }
            }
        }
    }

    /// Makes `channel` the one changes go to and subscribes it to everything; the returned
    /// future completes once the server has confirmed it all (a `PING` answered after them).
    func resubscribe(on channel: any Channel) -> EventLoopFuture<RESPValue> {
        self.state.withLock { state in
            state.channel = channel
            let commands = Kind.allCases.compactMap { kind in
                state.names[kind].flatMap { $0.isEmpty ? nil : RESPCommand(kind.subscribe, $0.sorted().map { .string($0) }) }
            }
            let ping = channel.eventLoop.makePromise(of: RESPValue.self)
            channel.eventLoop.execute {
                for command in commands {
                    channel.send(.command(command, nil))
                }
                channel.send(.command(RESPCommand("PING"), ping))
            }
            return ping.futureResult
        }
    }

    /// Every name of `kind` asked for.
    func names(_ kind: Kind) -> Set<String> {
        self.state.withLock { $0.names[kind] ?? [] }
    }

    /// Takes the pub/sub pushes (RESP2 arrays led by their kind) off the connection:
    /// messages go to the handler, confirmations are dropped; anything else is a reply.
    func route(_ value: RESPValue) -> Bool {
        guard case .array(let parts) = value, parts.count >= 3, let kind = parts[0].buffer else { return false }
        let bytes = kind.readableBytesView
        if bytes.elementsEqual("message".utf8) || bytes.elementsEqual("smessage".utf8) {
            if let channel = parts[1].buffer, let payload = parts[2].buffer {
                self.onMessage(channel, payload)
            }
            return true
        }
        if bytes.elementsEqual("pmessage".utf8) {
            if parts.count == 4, let channel = parts[2].buffer, let payload = parts[3].buffer {
                self.onMessage(channel, payload)
            }
            return true
        }
        return Self.confirmations.contains { bytes.elementsEqual($0.utf8) }
    }

    private static let confirmations = ["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"]
}
