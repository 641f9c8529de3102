import Foundation
import NIOCore
import Testing

@testable import ChorusBench

/// The frames and tallies of the presence, sync and event-consumer modes, without a server.
@Suite struct FeatureModeTests {
    private func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    @Test func aPresenceJoinCarriesTheMembersStampAsItsMetaAndAProbesIsEmpty() throws {
        let stamp = BenchStamp(source: 42, sequence: 1, sentNanoseconds: 123_456_789)
        let member = Subscription.presence.frame(topic: "bench:room-0", stamp: stamp)
        let frame = try self.json(member)
        #expect(frame["type"] as? String == "presence_join" && frame["topic"] as? String == "bench:room-0")
        #expect(BenchStamp.find(in: member, at: member.readerIndex, length: member.readableBytes) == stamp)
        let probe = try self.json(Subscription.presence.frame(topic: "bench:room-0", stamp: nil))
        #expect((probe["meta"] as? [String: Any])?.isEmpty == true && probe["limit"] == nil)
        // `--state-limit`: the join asks for a page of the list.
        let paged = try self.json(Subscription.presence.frame(topic: "bench:room-0", stamp: stamp, limit: 100))
        #expect(paged["limit"] as? Int == 100 && paged["meta"] is [String: Any])
        #expect(try self.json(Subscription.sync.frame(topic: "bench:tasks-0", stamp: nil))["collection"] as? String == "bench:tasks-0")
        #expect(try self.json(Subscription.topic.frame(topic: "t", stamp: nil))["type"] as? String == "subscribe")
    }

    @Test func eachKindIsConfirmedByItsOwnAnswer() {
        let state = ByteBuffer(string: #"{"type":"presence_state","topic":"r","members":[],"count":0,"users":0}"#)
        let snapshot = ByteBuffer(string: #"{"type":"sync_snapshot","collection":"c","version":3,"records":[]}"#)
        let changes = ByteBuffer(string: #"{"type":"sync_changes","collection":"c","version":3,"changes":[]}"#)
        let subscribed = ByteBuffer(string: #"{"type":"subscribed","topic":"t"}"#)
        let refused = ByteBuffer(string: #"{"type":"error","code":"unknown_type","message":"presence_join"}"#)
        #expect(Subscription.presence.confirms(state) && !Subscription.presence.confirms(subscribed) && !Subscription.presence.confirms(refused))
        #expect(Subscription.sync.confirms(snapshot) && Subscription.sync.confirms(changes) && !Subscription.sync.confirms(state))
        #expect(Subscription.topic.confirms(subscribed) && !Subscription.topic.confirms(snapshot))
    }

    @Test func aProbeReadsTheStampOfEveryJoinOfADiffAndNoneOfItsLeaves() {
        func member(_ source: Int) -> String {
            var meta = ByteBuffer()
            BenchStamp(source: source, sequence: 1, sentNanoseconds: UInt64(1000 + source)).write(into: &meta, size: 0)
            return #"{"user":null,"client":"c\#(source)","meta":\#(String(buffer: meta)),"joined_at":1}"#
        }
        let diff = #"{"type":"presence_diff","topic":"r","joins":[\#(member(3)),{"user":"u","client":"p","meta":{},"joined_at":1},\#(member(4)),\#(member(9))],"leaves":[\#(member(7))]}"#
        let buffer = ByteBuffer(string: "xx" + diff)
        let stamps = Subscription.presence.stamps(in: buffer, at: 2, length: diff.utf8.count)
        #expect(stamps.map(\.source) == [3, 4, 9])
        #expect(stamps.map(\.sentNanoseconds) == [1003, 1004, 1009])
        // Joins sent before the probe's own (members its presence_state listed) are not timed.
        #expect(Subscription.presence.stamps(in: buffer, at: 2, length: diff.utf8.count, joinedAt: 1004).map(\.source) == [4, 9])
        // A message or a sync change has one stamp, in its data.
        let change = ByteBuffer(string: #"{"type":"sync_change","collection":"c","op":"update","record_id":"w1","version":9,"data":\#(member(5))}"#)
        #expect(Subscription.sync.stamps(in: change, at: change.readerIndex, length: change.readableBytes).map(\.source) == [5])
    }

    @Test func aMalformedStampIsSkippedAndTheNextOneFound() {
        let text = #"[{"bench_p":1,"bench_s":x},{"bench_p":2,"bench_s":5,"bench_t":77,"pad":""}]"#
        let buffer = ByteBuffer(string: text)
        #expect(BenchStamp.all(in: buffer, at: 0, length: text.utf8.count) == [BenchStamp(source: 2, sequence: 5, sentNanoseconds: 77)])
        #expect(BenchStamp.find(in: buffer, at: 0, length: text.utf8.count)?.source == 2)
        #expect(BenchStamp.all(in: ByteBuffer(string: "{}"), at: 0, length: 2).isEmpty)
    }

    @Test func aSnapshotsRecordsAreCounted() {
        let snapshot = ByteBuffer(string: #"{"type":"sync_snapshot","collection":"c","version":2,"records":[{"id":"a","version":1,"data":{},"updated_at":5,"updated_by":null},{"id":"b","version":2,"data":{},"updated_at":6,"updated_by":null}]}"#)
        #expect(snapshot.occurrences(of: Array(#""updated_at":"#.utf8)) == 2)
        #expect(ByteBuffer(string: "aaaa").occurrences(of: Array("aa".utf8)) == 2)
        #expect(ByteBuffer().occurrences(of: Array("a".utf8)) == 0)
    }

    @Test func presenceMembersStampTheirJoinAndProbesDoNot() {
        let fleet = FleetSpec(
            endpoints: [try! EndpointTemplate("ws://127.0.0.1:1/ws")], serverProtocol: .chorus, token: nil, firstIndex: 0, count: 5,
            topics: 1, topicPrefix: "bench:room-", probes: 2, subscribes: true, sources: SourceAddresses(count: 1), threads: 1,
            connectConcurrency: 1, drainIntervalMilliseconds: 100, connectTimeoutMilliseconds: 1, subscription: .presence
        )
        #expect((0..<5).map { fleet.role(of: $0).joinStampSource } == [nil, nil, 2, 3, 4])
        #expect((0..<5).allSatisfy { fleet.role(of: $0).topic == "bench:room-0" && fleet.role(of: $0).subscription == .presence })
        #expect((0..<5).map { fleet.role(of: $0).lazy } == [false, false, true, true, true])
        #expect((0..<5).allSatisfy { fleet.role(of: $0).presenceStateLimit == nil })
        var paged = fleet
        paged.presenceStateLimit = 100
        #expect((0..<5).allSatisfy { paged.role(of: $0).presenceStateLimit == 100 })
    }

    @Test func consumerDefinitionsAreWhatTheHubTakes() throws {
        let bridge = try #require(try JSONSerialization.jsonObject(with: Data(EventConsumerProbe.definition(
            kind: .bridge, types: "bench.r1.*", topic: "bench-events-r1", webhookURL: "", concurrency: 8
        ).utf8)) as? [String: Any])
        #expect(bridge["types"] as? [String] == ["bench.r1.*"] && bridge["concurrency"] as? Int == 8 && bridge["ordering"] as? String == "unordered")
        #expect(((bridge["target"] as? [String: Any])?["bridge"] as? [String: Any])?["topics"] as? [String] == ["bench-events-r1"])
        let webhook = try #require(try JSONSerialization.jsonObject(with: Data(EventConsumerProbe.definition(
            kind: .webhook, types: "bench.r1.*", topic: "", webhookURL: "http://127.0.0.1:9/hook", concurrency: 16
        ).utf8)) as? [String: Any])
        let target = try #require((webhook["target"] as? [String: Any])?["webhook"] as? [String: Any])
        #expect(target["url"] as? String == "http://127.0.0.1:9/hook" && (target["secrets"] as? [String])?.first?.hasPrefix("whsec_") == true)
    }

    @Test(arguments: [
        ("presence", ["--server", "nchan", "--url", "ws://127.0.0.1:1/sub/{topic}"], "measures a Chorus hub over WebSocket"),
        ("sync", ["--url", "http://127.0.0.1:1/sse?topic={topic}"], "measures a Chorus hub over WebSocket"),
        ("presence", ["--probes", "0"], "--probes"),
        ("presence", ["--state-limit", "1001"], "--state-limit"),
        ("sync", ["--snapshot-reads", "0"], "--snapshot-reads"),
        ("events", ["--consumer", "kafka"], "--consumer"),
        ("events", ["--url", "nats://127.0.0.1:4222", "--consumer", "bridge"], "not JetStream"),
    ])
    func badOptionsOfTheNewModesAreRefusedBeforeConnecting(mode: String, options: [String], message: String) async {
        do {
            try await BenchCommand.run(mode: mode, options, workerArguments: [])
            Issue.record("chorus bench \(mode) \(options) ran")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }
}
