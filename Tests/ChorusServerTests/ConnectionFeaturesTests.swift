import ChorusCore
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import ChorusServer

/// Which feature serves each client frame type, and how a new feature plugs in.
@Suite struct ConnectionFeaturesTests {
    /// A feature of its own frame type, as presence, sync or signalling will be.
    struct SyncStandIn: ConnectionFeature {
        var frames: [FrameRoute] { [FrameRoute("sync_get", limit: .publishRatePerConnection), FrameRoute("sync_leave")] }
    }

    /// Records the hooks it is called with; answers the `subscribe`s of `answers`.
    struct Recorder: ConnectionFeature {
        let name: String
        var answers: Set<String> = []
        let calls: NIOLockedValueBox<[String]>

        var frames: [FrameRoute] { [] }

        func subscribed(to pattern: TopicPattern, since: RecoveryPosition?, id: RawJSON?, on connection: WebSocketConnection) -> Bool {
            self.calls.withLockedValue { $0.append("\(self.name) subscribed \(pattern.text)") }
            return self.answers.contains(pattern.text)
        }

        func unsubscribed(from pattern: TopicPattern, on connection: WebSocketConnection) {
            self.calls.withLockedValue { $0.append("\(self.name) unsubscribed \(pattern.text)") }
        }

        func closed(_ connection: WebSocketConnection) {
            self.calls.withLockedValue { $0.append("\(self.name) closed") }
        }
    }

    static func decode(_ text: String) throws -> ClientFrame {
        try ClientFrameDecoder().decode(ByteBuffer(string: text)).result.get()
    }

    @Test func theStandardFeaturesServeTheProtocolsFrames() throws {
        let features = ConnectionFeatures.standard(customHandlers: [:])
        let expected: [(String, Any.Type, LimitKind?)] = [
            (#"{"type":"subscribe","topic":"a"}"#, PubSubFeature.self, .subscribeRatePerConnection),
            (#"{"type":"unsubscribe","topic":"a"}"#, PubSubFeature.self, nil),
            (#"{"type":"publish","topic":"a","data":1}"#, PubSubFeature.self, .publishRatePerConnection),
            (#"{"type":"message","topic":"a","data":1}"#, PubSubFeature.self, .publishRatePerConnection),
            (#"{"type":"direct","to":"bob","data":1}"#, DirectFeature.self, .publishRatePerConnection),
            (#"{"type":"chat:send"}"#, CustomFramesFeature.self, .publishRatePerConnection),
        ]
        for (text, feature, limit) in expected {
            let route = try #require(features.route(for: try Self.decode(text)), "\(text)")
            #expect(type(of: route.feature) == feature, "\(text)")
            #expect(route.limit == limit, "\(text)")
        }
        // Presence has no feature yet: its frames are unknown types.
        let presence = try Self.decode(#"{"type":"presence","topic":"a"}"#)
        #expect(features.route(for: presence) == nil)
        #expect(presence.unservedError.code == .unknownType)
        // Every feature's hooks run, in order: history answers for what keeps history.
        #expect(features.all.map { String(describing: type(of: $0)) } == ["PubSubFeature", "HistoryFeature", "DirectFeature", "CustomFramesFeature"])
    }

    @Test func aNewFeatureTakesItsFrameTypesBeforeCustomHandlers() throws {
        let features = ConnectionFeatures([PubSubFeature(), SyncStandIn()], custom: CustomFramesFeature(handlers: [:]))
        let get = try #require(features.route(for: try Self.decode(#"{"type":"sync_get","collection":"todos"}"#)))
        #expect(get.feature is SyncStandIn)
        #expect(get.limit == .publishRatePerConnection)
        let leave = try #require(features.route(for: try Self.decode(#"{"type":"sync_leave"}"#)))
        #expect(leave.feature is SyncStandIn && leave.limit == nil)
        let other = try Self.decode(#"{"type":"sync_other"}"#)
        #expect(features.route(for: other)?.feature is CustomFramesFeature)
    }

    @Test func hooksRunInOrderAndOneFeatureAnswersASubscribe() throws {
        let calls = NIOLockedValueBox<[String]>([])
        let features = ConnectionFeatures(
            [Recorder(name: "first", calls: calls), Recorder(name: "history", answers: ["kept"], calls: calls), Recorder(name: "last", calls: calls)],
            custom: CustomFramesFeature(handlers: [:])
        )
        let client = try EmbeddedConnection<WebSocketConnection>()
        defer { client.finish() }
        #expect(features.subscribed(to: try TopicPattern("kept"), since: nil, id: nil, on: client.connection))
        #expect(!features.subscribed(to: try TopicPattern("plain"), since: nil, id: nil, on: client.connection))
        features.unsubscribed(from: try TopicPattern("plain"), on: client.connection)
        features.closed(client.connection)
        #expect(
            calls.withLockedValue { $0 } == [
                "first subscribed kept", "history subscribed kept",
                "first subscribed plain", "history subscribed plain", "last subscribed plain",
                "first unsubscribed plain", "history unsubscribed plain", "last unsubscribed plain",
                "first closed", "history closed", "last closed",
            ]
        )
    }
}
