import Foundation
import NIOCore

/// One side of a signalling pair (`chorus bench presence`): it joins a presence topic of its
/// own pair with `meta` {"bench_peer": side}, learns its peer's client id from the member lists,
/// and then the caller keeps one stamped `signal` in flight to the answerer, which sends each
/// back to the `from.client` it came from: a round trip A → B → A, counted on the caller's tally.
/// The few frames of a pair are read with JSONSerialization: this is not the hot path.
final class SignalPeer: FrameClient {
    enum Side: String {
        case caller, answerer
    }

    private let topic: String
    private let side: Side
    private let tally: LoopTally
    private let ready: EventLoopPromise<Void>
    private var peer: String?
    private var sequence = 0
    private var settled = false

    init(topic: String, side: Side, tally: LoopTally, ready: EventLoopPromise<Void>) {
        self.topic = topic
        self.side = side
        self.tally = tally
        self.ready = ready
    }

    func upgraded(_ connection: FrameConnection) {
        connection.send(ByteBuffer(string: #"{"type":"presence_join","topic":""# + self.topic + #"","meta":{"bench_peer":""# + self.side.rawValue + #""}}"#))
    }

    func received(_ payload: ByteBuffer, _ connection: FrameConnection) {
        guard let frame = try? JSONSerialization.jsonObject(with: Data(payload.readableBytesView)) as? [String: Any], let type = frame["type"] as? String else {
            return self.tally.figures.errors.add("signalling: a frame that is not a JSON object")
        }
        switch type {
        case "presence_state":
            self.findPeer(in: frame["members"])
        case "presence_diff":
            self.findPeer(in: frame["joins"])
        case "signal":
            guard let stamp = BenchStamp.find(in: payload, at: payload.readerIndex, length: payload.readableBytes) else {
                return self.tally.figures.errors.add("signalling: a signal without its stamp")
            }
            switch self.side {
            case .answerer:
                if let from = (frame["from"] as? [String: Any])?["client"] as? String { self.signal(stamp, to: from, connection) }
            case .caller:
                self.tally.figures.deliveries += 1
                LatencyHistogram.record(&self.tally.figures.latency, sent: stamp.sentNanoseconds, received: NIODeadline.now().uptimeNanoseconds)
                self.start(connection)
            }
        case "error":
            let message = "signalling: \(frame["code"] ?? "error"): \(frame["message"] ?? "")"
            if self.settled {
                self.tally.figures.errors.add(message)
            } else {
                self.settle(error: message)
                connection.close()
            }
        default:
            break  // the `ack` of each signal
        }
    }

    /// The caller sends the next signal while the run lasts.
    func start(_ connection: FrameConnection) {
        guard self.side == .caller, self.tally.sending, let peer = self.peer else { return }
        self.sequence += 1
        self.signal(BenchStamp(source: 0, sequence: self.sequence, sentNanoseconds: NIODeadline.now().uptimeNanoseconds), to: peer, connection)
    }

    func ended(error: String?) {
        if !self.settled {
            self.settle(error: error ?? "closed before its peer joined")
        } else if self.tally.sending {
            self.tally.figures.closedByServer += 1
        }
    }

    private func signal(_ stamp: BenchStamp, to client: String, _ connection: FrameConnection) {
        var frame = ByteBuffer(string: #"{"type":"signal","to":""# + client + #"","data":"#)
        stamp.write(into: &frame, size: 0)
        frame.writeStaticString("}")
        connection.send(frame)
    }

    private func findPeer(in members: Any?) {
        guard self.peer == nil, let members = members as? [[String: Any]] else { return }
        let other = self.side == .caller ? Side.answerer : .caller
        self.peer = members.first { ($0["meta"] as? [String: Any])?["bench_peer"] as? String == other.rawValue }?["client"] as? String
        if self.peer != nil { self.settle(error: nil) }
    }

    private func settle(error: String?) {
        guard !self.settled else { return }
        self.settled = true
        if let error { self.ready.fail(BenchError(error)) } else { self.ready.succeed(()) }
    }
}
