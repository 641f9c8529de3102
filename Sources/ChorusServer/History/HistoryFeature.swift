import ChorusCore
import NIOCore

/// History recovery, for WebSocket and SSE alike: a `subscribe` to a topic that keeps history
/// answers with the topic's position and replays what the client missed since an offset; a
/// pattern `subscribe` with a time `since` replays the matching history topics; an SSE stream
/// resumes after its `Last-Event-ID`. Each connection's ``RecoveryGate`` holds the live
/// messages that arrive meanwhile, so there is no gap and no duplicate at the seam.
///
/// The gate lives in the connection because the fan-out consults it on every delivery; only
/// this feature starts, pages and cancels its replays.
struct HistoryFeature: ConnectionFeature {
    /// None of its own: it answers pub/sub's `subscribe` for what keeps history.
    var frames: [FrameRoute] { [] }

    func subscribed(to pattern: TopicPattern, since: RecoveryPosition?, id: RawJSON?, on connection: WebSocketConnection) -> Bool {
        let hub = connection.hub
        guard let history = hub.history else { return false }
        if let topic = pattern.exactTopic, hub.historySize(of: topic) != nil {
            Self.subscribe(connection, to: topic, history: history, since: since, id: id)
            return true
        }
        if pattern.isWildcard, case .timestamp(let milliseconds)? = since {
            let version = connection.version
            let answer = { (recovered: Bool) in
                WebSocketConnection.encode(.subscribed(topic: pattern.text, offset: nil, epoch: nil, recovered: recovered), id: id, version: version)
            }
            let floor = hub.committedSequence(for: [pattern], in: history, on: connection.shard.eventLoop)
            connection.startReplay(key: pattern.text, scope: .patterns([pattern]), once: floor) { result in
                guard let floor = try? result.get() else {
                    // The store could not say where it stands: nothing to replay from.
                    connection.write(answer(false))
                    return (0, nil)
                }
                return (floor, Replay.patterns([pattern], hub: hub, access: connection.access, after: 0, through: floor, newerThan: milliseconds, answer: answer))
            }
            return true
        }
        return false
    }

    func unsubscribed(from pattern: TopicPattern, on connection: WebSocketConnection) {
        connection.gate.cancel(key: pattern.text)
    }

    /// Subscribes to a topic that keeps history, replaying what the client missed when `since`
    /// allows it, page by page: complete (right after `since`, through the position at
    /// subscribe) or nothing. The live subscription is already in place.
    private static func subscribe(_ connection: WebSocketConnection, to topic: Topic, history: any HistoryStore, since: RecoveryPosition?, id: RawJSON?) {
        let position = connection.hub.subscriberPosition(of: topic, in: history, on: connection.shard.eventLoop)
        connection.startReplay(key: topic.name, scope: .topic(topic.name), once: position) { result in
            guard let position = try? result.get() else {
                // The store could not say where the topic stands: nothing can be recovered.
                connection.reply(.subscribed(topic: topic.name, offset: nil, epoch: nil, recovered: since == nil ? nil : false), id: id)
                return (0, nil)
            }
            return (position.sequence, Self.replay(connection, of: topic, at: position, since: since, id: id))
        }
    }

    /// The replay of `topic` from `since` through `position`; nil, once the answer is written,
    /// when there is nothing to replay.
    private static func replay(_ connection: WebSocketConnection, of topic: Topic, at position: HistoryPosition, since: RecoveryPosition?, id: RawJSON?) -> Replay? {
        let state = position.state
        let top = state?.lastOffset ?? 0
        guard case .offset(let from, let epoch)? = since, let state, epoch == state.epoch, from < top else {
            var recovered: Bool?
            if case .offset(let from, let epoch)? = since {
                // Already up to date (or nothing was ever published): nothing is missing.
                recovered = from == top && (epoch == state?.epoch || (state == nil && from == 0))
            } else if since != nil {
                recovered = false  // a time position is for pattern subscriptions
            }
            connection.reply(.subscribed(topic: topic.name, offset: top, epoch: state?.epoch, recovered: recovered), id: id)
            return nil
        }
        let name = topic.name
        let version = connection.version
        let pageCount = connection.hub.topicReplayPageCount
        return Replay(
            read: { history, cursor, first, loop in
                history.messages(topic: name, after: cursor, limit: pageCount, maxBytes: .max, on: loop).map { read in
                    let messages = read.prefix { $0.offset <= top }
                    let next = messages.last?.offset ?? top
                    var page = ReplayPage(messages: Array(messages), cursor: next, exhausted: next >= top)
                    // Complete or nothing: a replay must go on right after `since` and its last page.
                    let continues = messages.first.map { $0.offset == cursor + 1 } ?? (cursor >= top)
                    if first { page.complete = continues } else { page.overtaken = !continues }
                    return page
                }
            },
            initialCursor: from,
            sub: { _ in nil },
            answer: { recovered in
                WebSocketConnection.encode(.subscribed(topic: name, offset: top, epoch: state.epoch, recovered: recovered), id: id, version: version)
            },
            sendsPartial: false
        )
    }

    /// Replays what a reconnecting EventSource missed: every message of the stream's history
    /// topics committed after `Last-Event-ID` (store sequence `sequence`), then the live
    /// messages held meanwhile.
    static func resume(_ connection: SSEConnection, after sequence: UInt64, patterns: [TopicPattern]) {
        let hub = connection.hub
        guard let history = hub.history else { return }
        let floor = hub.committedSequence(for: patterns, in: history, on: connection.shard.eventLoop)
        connection.startReplay(key: "", scope: .patterns(patterns), once: floor) { result in
            let floor = (try? result.get()) ?? 0
            // Nothing missed (or the store could not say): only the floor acts.
            guard sequence < floor else { return (floor, nil) }
            return (floor, Replay.patterns(patterns, hub: hub, access: connection.access, after: sequence, through: floor, newerThan: nil, answer: nil))
        }
    }
}
