import NIOCore

/// How a Chorus subscriber connection joins what it then reads:
/// - `topic`: a `subscribe` frame (or `?topic=` in the URL), answered `subscribed`; deliveries are `message` frames;
/// - `presence`: a `presence_join`, answered `presence_state`; deliveries are `presence_diff` frames
///   (`chorus bench presence`: the members that are not probes join with a stamp as their `meta`);
/// - `sync`: a `sync_subscribe` to a collection, answered `sync_snapshot` (or `sync_changes`);
///   deliveries are `sync_change` frames whose `data` a writer stamped (`chorus bench sync`).
public enum Subscription: String, Codable, Sendable {
    case topic, presence, sync

    /// The frame that joins `topic`; a presence join carries `stamp` as its `meta` (else `{}`),
    /// and `limit` when given (its `presence_state` then lists that many members at most).
    func frame(topic: String, stamp: BenchStamp?, limit: Int? = nil) -> ByteBuffer {
        switch self {
        case .topic:
            return ServerProtocol.subscribeFrame(topic: topic)
        case .presence:
            var buffer = ByteBuffer(string: #"{"type":"presence_join","topic":""# + topic + #"","meta":"#)
            if let stamp { stamp.write(into: &buffer, size: 0) } else { buffer.writeStaticString("{}") }
            if let limit { buffer.writeString(#","limit":"# + String(limit)) }
            buffer.writeStaticString("}")
            return buffer
        case .sync:
            return ByteBuffer(string: #"{"type":"sync_subscribe","collection":""# + topic + #""}"#)
        }
    }

    private static let confirmations: [Subscription: [[UInt8]]] = [
        .topic: [Array(#""type":"subscribed""#.utf8)],
        .presence: [Array(#""type":"presence_state""#.utf8)],
        .sync: [Array(#""type":"sync_snapshot""#.utf8), Array(#""type":"sync_changes""#.utf8)],
    ]

    /// Whether `frame` is the answer that confirms the join.
    func confirms(_ frame: ByteBuffer) -> Bool {
        Self.confirmations[self]!.contains { frame.firstIndex(of: $0) != nil }
    }

    private static let leavesKey: [UInt8] = Array(#""leaves":"#.utf8)

    /// The stamps a probe reads in one delivery: the one of a message or `sync_change`; or the
    /// joining members' of a `presence_diff` (not those of its `leaves`) whose join was sent at or
    /// after `joinedAt`, the probe's own: a diff may still carry joins its `presence_state` listed.
    func stamps(in buffer: ByteBuffer, at index: Int, length: Int, joinedAt: UInt64 = 0) -> [BenchStamp] {
        switch self {
        case .presence:
            guard let frame = buffer.getSlice(at: index, length: length) else { return [] }
            let joinsEnd = frame.firstIndex(of: Self.leavesKey).map { $0 - frame.readerIndex } ?? length
            return BenchStamp.all(in: frame, at: frame.readerIndex, length: joinsEnd).filter { $0.sentNanoseconds >= joinedAt }
        case .topic, .sync:
            let stamp = BenchStamp.find(in: buffer, at: index, length: length) ?? BenchStamp.findInBase64(in: buffer, at: index, length: length)
            return stamp.map { [$0] } ?? []
        }
    }
}
