import ChorusCore
import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusServer

/// ``PresenceFeature`` on an `EmbeddedChannel`: frames in, `presence_state`/`ack`/`error` out,
/// and the batched `presence_diff` once the loop's clock passes a tick.
@Suite struct PresenceFeatureTests {
    typealias Client = EmbeddedConnection<WebSocketConnection>

    static func client(maxMembers: Int = 10) throws -> Client {
        var configuration = HubConfiguration()
        configuration.namespaces = ["room": NamespaceOptions(presence: true, presenceMaxMembers: maxMembers, presenceMaxMetaSize: 32), "plain": NamespaceOptions()]
        return try Client(configuration: configuration)
    }

    static func counts(_ client: Client, _ topic: String) throws -> PresenceCounts {
        try client.hub.presence!.counts(of: try Topic(topic), on: client.loop).wait()
    }

    @Test func theFeatureServesPresenceOnlyWhenANamespaceHasIt() throws {
        let features = ConnectionFeatures.standard(customHandlers: [:], presence: true)
        for type in ["presence_join", "presence_update", "presence_leave", "presence", "presence_stats"] {
            let frame = try ClientFrameDecoder().decode(ByteBuffer(string: #"{"type":"\#(type)","topic":"room:a","meta":{}}"#)).result.get()
            #expect(features.route(for: frame)?.feature is PresenceFeature, "\(type)")
        }
        let signal = try ClientFrameDecoder().decode(ByteBuffer(string: #"{"type":"signal","to":"c-1","data":{}}"#)).result.get()
        #expect(features.route(for: signal)?.feature is SignalFeature)
        #expect(features.route(for: signal)?.limit == .publishRatePerConnection)
        #expect(try Client().hub.presence == nil)
    }

    @Test func joinAnswersStateAndTheDiffFollowsOnTheLoop() throws {
        let client = try Self.client()
        defer { client.finish() }
        let me = client.connection.info.client
        try client.send(#"{"type":"presence_join","topic":"room:a","meta":{"s":"on"},"id":1}"#)
        let state = try #require(try client.texts().first)
        #expect(state.hasPrefix(#"{"type":"presence_state","id":1,"topic":"room:a","members":[{"user":null,"client":"\#(me)","meta":{"s":"on"},"joined_at":"#))
        #expect(state.hasSuffix(#","count":1,"users":1}"#))
        client.run()
        let diff = try client.texts()
        #expect(diff.count == 1 && diff[0].hasPrefix(#"{"type":"presence_diff","topic":"room:a","joins":[{"user":null,"client":"\#(me)""#))
        #expect(diff[0].hasSuffix(#""leaves":[]}"#))
        // Joining subscribed the connection: it hears the topic's messages too.
        #expect(client.connection.subscriptions.contains(TopicPattern(try Topic("room:a"))))
    }

    @Test func updatesWithinATickWaitForItAndAreOneLeaveAndJoin() throws {
        let client = try Self.client()
        defer { client.finish() }
        try client.send(#"{"type":"presence_join","topic":"room:a","meta":{"s":"1"},"id":1}"#)
        client.run()
        _ = try client.texts()
        try client.send(#"{"type":"presence_update","topic":"room:a","meta":{"s":"2"},"id":2}"#)
        try client.send(#"{"type":"presence_update","topic":"room:a","meta":{"s":"3"},"id":3}"#)
        #expect(try client.texts() == [#"{"type":"ack","id":2}"#, #"{"type":"ack","id":3}"#])
        client.run()
        #expect(try client.texts().isEmpty, "within the tick after the last diff")
        client.loop.advanceTime(by: PresenceChanges.tick)
        let diffs = try client.texts()
        #expect(diffs.count == 1)
        #expect(diffs.first?.contains(#""joins":[{"user":null,"client":"\#(client.connection.info.client)","meta":{"s":"3"}"#) == true)
        #expect(diffs.first?.contains(#""leaves":[{"user":null,"client":"\#(client.connection.info.client)","meta":{"s":"1"}"#) == true)
    }

    @Test func leavingByFrameUnsubscribeOrCloseEmptiesTheTopic() throws {
        let client = try Self.client()
        defer { client.finish() }
        try client.send(#"{"type":"presence_join","topic":"room:a","id":1}"#)
        try client.send(#"{"type":"presence_join","topic":"room:b","id":2}"#)
        try client.send(#"{"type":"presence_join","topic":"room:c","id":3}"#)
        #expect(try Self.counts(client, "room:a") == PresenceCounts(clients: 1, users: 1))
        try client.send(#"{"type":"presence_leave","topic":"room:a","id":4}"#)
        try client.send(#"{"type":"unsubscribe","topic":"room:b","id":5}"#)
        let answers = try client.texts()
        #expect(answers.suffix(2) == [#"{"type":"ack","id":4}"#, #"{"type":"unsubscribed","id":5,"topic":"room:b"}"#])
        #expect(try Self.counts(client, "room:a").clients == 0)
        #expect(try Self.counts(client, "room:b").clients == 0)
        #expect(try Self.counts(client, "room:c").clients == 1)
        try client.channel.close().wait()
        #expect(try Self.counts(client, "room:c").clients == 0)
    }

    @Test func refusalsAreErrorsAndTheConnectionStays() throws {
        let client = try Self.client(maxMembers: 1)
        defer { client.finish() }
        try client.hub.presence!.join(PresenceMember(client: "other", user: "bob", meta: ByteBuffer(string: "{}"), joinedAt: 1), topic: try Topic("room:full"), maxMembers: 1, on: client.loop).wait()
        let cases: [(String, String)] = [
            (#"{"type":"presence_join","topic":"room:full","id":1}"#, "forbidden"),
            (#"{"type":"presence_join","topic":"room:a","meta":{"x":"0123456789012345678901234567890"},"id":2}"#, "too_large"),
            (#"{"type":"presence_join","topic":"plain:a","id":3}"#, "forbidden"),
            (#"{"type":"presence_update","topic":"room:a","meta":{},"id":4}"#, "not_found"),
            (#"{"type":"presence_stats","topic":"plain:a","id":5}"#, "forbidden"),
        ]
        for (text, code) in cases {
            try client.send(text)
            let answer = try #require(try client.texts().first)
            #expect(answer.contains(#""code":"\#(code)""#), "\(text): \(answer)")
        }
        #expect(client.connection.subscriptions.isEmpty, "a refused join subscribes to nothing")
        try client.send(#"{"type":"presence","topic":"room:full","id":6}"#)
        #expect(try client.texts().first?.contains(#""client":"other""#) == true)
    }

    @Test func aJoinWithALimitAnswersAPageAndPresenceWalksTheRest() throws {
        let client = try Self.client(maxMembers: 100)
        defer { client.finish() }
        let topic = try Topic("room:big")
        for index in 0..<7 {
            _ = try client.hub.presence!.join(
                PresenceMember(client: "m\(index)", user: "u\(index % 3)", meta: ByteBuffer(string: "{}"), joinedAt: Int64(index)), topic: topic, maxMembers: 100, on: client.loop
            ).wait()
        }
        func clients(_ text: String) -> [String] {
            text.split(separator: #""client":""#).dropFirst().map { String($0.prefix { $0 != "\"" }) }
        }
        try client.send(#"{"type":"presence_join","topic":"room:big","limit":3,"id":1}"#)
        let first = try #require(try client.texts().first)
        #expect(clients(first) == ["m0", "m1", "m2"])
        #expect(first.hasSuffix(#","count":8,"users":4,"next":"2:m2"}"#), "\(first)")
        try client.send(#"{"type":"presence","topic":"room:big","limit":3,"after":"2:m2","id":2}"#)
        let second = try #require(try client.texts().first)
        #expect(clients(second) == ["m3", "m4", "m5"] && second.hasSuffix(#""next":"5:m5"}"#))
        try client.send(#"{"type":"presence","topic":"room:big","limit":3,"after":"5:m5","id":3}"#)
        let last = try #require(try client.texts().first)
        #expect(clients(last) == ["m6", client.connection.info.client] && last.hasSuffix(#","count":8,"users":4}"#), "the last page has no next")
        try client.send(#"{"type":"presence","topic":"room:big","limit":0,"id":4}"#)
        #expect(try client.texts().first == #"{"type":"presence_state","id":4,"topic":"room:big","members":[],"count":8,"users":4}"#)
        for (index, text) in [
            #"{"type":"presence","topic":"room:big","limit":1001,"id":5}"#, #"{"type":"presence","topic":"room:big","after":"m2","id":6}"#,
            #"{"type":"presence_join","topic":"room:big","limit":-1,"id":7}"#,
        ].enumerated() {
            try client.send(text)
            let answer = try #require(try client.texts().first)
            #expect(answer.contains(#""id":\#(index + 5),"code":"bad_request""#) && answer.contains(index == 1 ? "'after'" : "'limit'"), "\(answer)")
        }
    }

    @Test func aSignalReachesOnlyAClientInASharedTopic() throws {
        let client = try Self.client()
        defer { client.finish() }
        let me = client.connection.info.client
        try client.send(#"{"type":"signal","to":"\#(me)","data":{"sdp":1},"id":1}"#)
        #expect(try client.texts().first?.contains(#""code":"not_found""#) == true, "not present anywhere")
        try client.send(#"{"type":"presence_join","topic":"room:a","id":2}"#)
        _ = try client.texts()
        try client.send(#"{"type":"signal","to":"\#(me)","data":{"sdp":1},"id":3}"#)
        #expect(try client.texts().first?.contains(#""code":"not_found""#) == true, "not to itself")
        // A peer on the same hub, present in the same topic, signals this connection.
        let peer = try #require(client.hub.presence)
        _ = try peer.join(PresenceMember(client: "peer", user: "bob", meta: ByteBuffer(string: "{}"), joinedAt: 1), topic: try Topic("room:a"), maxMembers: 10, on: client.loop).wait()
        #expect(try peer.sharedTopic(of: "peer", and: me, on: client.loop).wait() == (try Topic("room:a")))
        let relay = WebSocketConnection.encode(.signal(from: MessageSender(user: "bob", client: "peer"), data: ByteBuffer(string: #"{"sdp":2}"#)), id: nil, version: .v1)
        #expect(client.hub.send(relay, toClient: me))
        #expect(!client.hub.send(relay, toClient: "elsewhere-1"))
        client.run()
        #expect(try client.texts().contains(#"{"type":"signal","from":{"user":"bob","client":"peer"},"data":{"sdp":2}}"#))
    }
}
