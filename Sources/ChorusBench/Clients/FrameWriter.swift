import Foundation
import NIOCore

/// One WebSocket writer with one request in flight: the next is sent when the previous is
/// answered (``DurablePublishLoop``'s closed loop, its acknowledgements and their latency
/// counted on the loop's tally).
/// - `chorus bench sync`: measuring, it inserts a record of its own and then updates it with
///   stamped data (`sync_mutate`), which the subscribers time; loading a snapshot's collection,
///   it inserts its share of records and completes `loaded`.
/// - `chorus bench events` over WebSocket: `event_publish` frames with stamped data, the event
///   types cycling as the HTTP publishers' do.
final class FrameWriter: FrameClient {
    enum Work {
        case stamped(collection: String, recordID: String)
        case load(collection: String, recordIDs: [String])
        case event(typePrefix: String)

        /// The frame type sent, for error messages.
        var frameType: String {
            if case .event = self { return "event_publish" }
            return "sync_mutate"
        }
    }

    private var loop: DurablePublishLoop
    private let work: Work
    private let ready: EventLoopPromise<Void>
    private let loaded: EventLoopPromise<Void>?
    private var isReady = false
    private var isLoaded = false

    init(loop: DurablePublishLoop, work: Work, ready: EventLoopPromise<Void>, loaded: EventLoopPromise<Void>? = nil) {
        self.loop = loop
        self.work = work
        self.ready = ready
        self.loaded = loaded
    }

    func upgraded(_ connection: FrameConnection) {
        self.isReady = true
        self.ready.succeed(())
    }

    private static let ack: [UInt8] = Array(#""type":"ack""#.utf8)
    private static let error: [UInt8] = Array(#""type":"error""#.utf8)

    func received(_ payload: ByteBuffer, _ connection: FrameConnection) {
        if payload.firstIndex(of: Self.ack) != nil {
            self.loop.answered(error: nil)
        } else if payload.firstIndex(of: Self.error) == nil {
            // Not an answer (`auth_success`, `connected`, a `disconnect` before the close): sending
            // on it would put a second request in flight.
            return
        } else {
            let frame = (try? JSONSerialization.jsonObject(with: Data(payload.readableBytesView))) as? [String: Any]
            self.loop.answered(error: "\(self.work.frameType): \(frame?["code"] ?? "?"): \(frame?["message"] ?? String(buffer: payload).prefix(160))")
        }
        self.start(connection)
    }

    /// Sends the next request, if the run (or the share to load) is not over.
    func start(_ connection: FrameConnection) {
        if case .load(_, let ids) = self.work, self.loop.sequence >= ids.count {
            return self.settleLoad(nil)
        }
        guard let (type, id) = self.loop.next(), let sentAt = self.loop.sentAt else { return }
        let stamp = BenchStamp(source: self.loop.source, sequence: self.loop.sequence, sentNanoseconds: sentAt)
        var frame: ByteBuffer
        switch self.work {
        case .stamped(let collection, let recordID):
            frame = Self.mutation(collection, id: id, op: self.loop.sequence == 1 ? "insert" : "update", recordID: recordID)
            stamp.write(into: &frame, size: self.loop.payload.readableBytes)
        case .load(let collection, let ids):
            frame = Self.mutation(collection, id: id, op: "insert", recordID: ids[self.loop.sequence - 1])
            frame.writeImmutableBuffer(self.loop.payload)
        case .event(let typePrefix):
            frame = ByteBuffer(string: #"{"type":"event_publish","event_type":""# + typePrefix + String(type) + #"","event_id":""# + id + #"","data":"#)
            // Stamped, so that a consumer (`--consumer`) can time publish → delivery.
            stamp.write(into: &frame, size: self.loop.payload.readableBytes)
        }
        frame.writeStaticString("}")
        connection.send(frame)
    }

    /// A `sync_mutate` frame up to its `data`, which the caller writes.
    private static func mutation(_ collection: String, id: String, op: String, recordID: String) -> ByteBuffer {
        ByteBuffer(string: #"{"type":"sync_mutate","collection":""# + collection + #"","mutation_id":""# + id + #"","op":""# + op + #"","record_id":""# + recordID + #"","data":"#)
    }

    /// Opens `count` writer connections round robin over `loops` and waits until each is upgraded.
    static func open(
        _ count: Int, loops: LoopTallies, connector: Connector,
        make: @escaping @Sendable (Int, LoopTally, EventLoopPromise<Void>) -> FrameWriter
    ) async throws -> [any Channel] {
        let endpoint = connector.endpoint
        var opening: [EventLoopFuture<any Channel>] = []
        for source in 0..<count {
            let tally = loops.tallies[source % loops.tallies.count]
            let ready = tally.eventLoop.makePromise(of: Void.self)
            opening.append(
                connector.connect(on: tally.eventLoop, sourceIndex: source) {
                    FrameClientHandler(endpoint: endpoint, token: connector.token, client: make(source, tally.value, ready))
                }.flatMap { channel in
                    ready.futureResult.map { channel }
                }.flatMapError { error in
                    ready.fail(error)
                    return tally.eventLoop.makeFailedFuture(error)
                }
            )
        }
        var channels: [any Channel] = []
        do {
            for future in opening { channels.append(try await future.get()) }
        } catch {
            for channel in channels { channel.close(promise: nil) }
            await loops.shutdown()
            throw BenchError("a writer could not connect to \(endpoint): \(error)")
        }
        return channels
    }

    func ended(error: String?) {
        if !self.isReady {
            self.ready.fail(BenchError(error ?? "closed before the upgrade"))
        } else if self.loop.tally.sending {
            self.loop.tally.figures.closedByServer += 1
        }
        self.settleLoad(BenchError("a loading writer's connection closed: \(error ?? "by the server")"))
    }

    private func settleLoad(_ error: BenchError?) {
        guard !self.isLoaded, let loaded = self.loaded else { return }
        self.isLoaded = true
        if let error { loaded.fail(error) } else { loaded.succeed(()) }
    }
}

/// Reads a collection's snapshot once: from its `sync_subscribe` to the whole `sync_snapshot`
/// frame read; its size and number of records.
final class SnapshotReader: FrameClient {
    struct Reading: Sendable {
        var seconds: Double
        var bytes: Int
        var records: Int
    }

    private let collection: String
    private let done: EventLoopPromise<Reading>
    private var sentAt: UInt64 = 0
    private var finished = false

    init(collection: String, done: EventLoopPromise<Reading>) {
        self.collection = collection
        self.done = done
    }

    private static let snapshot: [UInt8] = Array(#""type":"sync_snapshot""#.utf8)
    /// Once per record, never at the top level of the frame.
    private static let recordKey: [UInt8] = Array(#""updated_at":"#.utf8)

    func upgraded(_ connection: FrameConnection) {
        self.sentAt = NIODeadline.now().uptimeNanoseconds
        connection.send(ByteBuffer(string: #"{"type":"sync_subscribe","collection":""# + self.collection + #""}"#))
    }

    func received(_ payload: ByteBuffer, _ connection: FrameConnection) {
        let seconds = Double(NIODeadline.now().uptimeNanoseconds - self.sentAt) / 1e9
        self.finish(
            payload.firstIndex(of: Self.snapshot) != nil
                ? .success(Reading(seconds: seconds, bytes: payload.readableBytes, records: payload.occurrences(of: Self.recordKey)))
                : .failure(BenchError("expected a sync_snapshot, got: \(String(buffer: payload).prefix(160))"))
        )
        connection.close()
    }

    func start(_ connection: FrameConnection) {}

    func ended(error: String?) {
        self.finish(.failure(BenchError(error ?? "closed before the snapshot arrived")))
    }

    private func finish(_ result: Result<Reading, BenchError>) {
        guard !self.finished else { return }
        self.finished = true
        self.done.completeWith(result.mapError { $0 as any Error })
    }
}
