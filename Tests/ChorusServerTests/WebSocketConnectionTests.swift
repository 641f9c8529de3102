import ChorusCore
import MetricsTestKit
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import ChorusServer

/// ``WebSocketConnection`` on an `EmbeddedChannel`: client frames in, hub frames out.
@Suite struct WebSocketConnectionTests {
    typealias Client = EmbeddedConnection<WebSocketConnection>

    @Test func subscribeThenPublishIsAckedAndDelivered() throws {
        let client = try Client()
        defer { client.finish() }
        try client.send(#"{"type":"subscribe","topic":"chat:a","id":1}"#)
        #expect(try client.texts() == [#"{"type":"subscribed","id":1,"topic":"chat:a"}"#])
        try client.send(#"{"type":"publish","topic":"chat:a","event":"said","data":{"x":1},"id":2}"#)
        let ack = try #require(try client.texts().first)
        #expect(ack.hasPrefix(#"{"type":"ack","id":2,"message_id":"#))
        client.run()
        let delivered = try client.texts()
        #expect(delivered.count == 1)
        #expect(delivered.first?.contains(#""topic":"chat:a","event":"said""#) == true)
        #expect(delivered.first?.contains(#""data":{"x":1}"#) == true)
    }

    @Test func messageIsAnAliasOfPublish() throws {
        let client = try Client()
        defer { client.finish() }
        try client.send(#"{"type":"message","topic":"chat:a","data":1,"id":"m"}"#)
        #expect(try client.texts().first?.hasPrefix(#"{"type":"ack","id":"m""#) == true)
    }

    @Test func unsubscribedTopicsAreNoLongerDelivered() throws {
        let client = try Client(uri: "/ws?topic=chat:a")
        defer { client.finish() }
        // `?topic=` subscribes at connect, answered without an id.
        #expect(try client.texts() == [#"{"type":"subscribed","topic":"chat:a"}"#])
        try client.send(#"{"type":"unsubscribe","topic":"chat:a","id":1}"#)
        #expect(try client.texts() == [#"{"type":"unsubscribed","id":1,"topic":"chat:a"}"#])
        try client.hub.publish(topic: Topic("chat:a"), event: nil, data: ByteBuffer(string: "1"))
        client.run()
        #expect(try client.texts().isEmpty)
    }

    @Test func badFramesAreAnsweredAndTheConnectionStaysOpen() throws {
        let client = try Client()
        defer { client.finish() }
        try client.send("{")
        try client.send(#"{"id":7}"#)
        try client.send(opcode: 0x2, payload: [1, 2, 3])
        try client.send(#"{"type":"subscribe","topic":"a b","id":8}"#)
        let errors = try client.texts()
        #expect(errors.count == 4)
        #expect(errors.allSatisfy { $0.hasPrefix(#"{"type":"error""#) && $0.contains(#""code":"bad_request""#) })
        #expect(errors[1].contains(#""id":7"#) && errors[3].contains(#""id":8"#))
        try client.send(#"{"type":"ping","id":9,"timestamp":123}"#)
        #expect(try client.texts() == [#"{"type":"pong","id":9,"timestamp":123}"#])
        #expect(client.channel.isActive)
    }

    @Test func framesNoFeatureServesAreUnknownTypes() throws {
        let client = try Client(customHandlers: ["echo:hi": { _ throws(ProtocolError) in .custom(type: "echo:hi", fields: nil) }])
        defer { client.finish() }
        try client.send(#"{"type":"echo:hi","id":1}"#)
        try client.send(#"{"type":"not:registered","id":2}"#)
        try client.send(#"{"type":"presence","topic":"room.1","id":3}"#)
        let answers = try client.texts()
        #expect(answers.count == 3)
        #expect(answers[0] == #"{"type":"echo:hi","id":1}"#)
        #expect(answers[1] == #"{"type":"error","id":2,"code":"unknown_type","message":"no handler for frame type 'not:registered'"}"#)
        #expect(answers[2] == #"{"type":"error","id":3,"code":"unknown_type","message":"presence is not available in this version of the hub"}"#)
    }

    @Test func controlPingIsAnsweredWithPong() throws {
        let client = try Client()
        defer { client.finish() }
        try client.send(opcode: 0x9, payload: Array("hi".utf8))
        #expect(try client.frames() == [WebSocketWire.Frame(opcode: 0xA, payload: Array("hi".utf8))])
    }

    @Test func theSweepPingsAndClosesIdleClients() throws {
        var configuration = HubConfiguration()
        configuration.pingInterval = .seconds(30)
        configuration.idleTimeout = .seconds(60)
        let client = try Client(configuration: configuration)
        defer { client.finish() }
        client.connection.sweep(now: .now() + .seconds(31))
        #expect(try client.frames() == [WebSocketWire.Frame(opcode: 0x9, payload: [])])
        client.connection.sweep(now: .now() + .seconds(61))
        let frames = try client.frames()
        #expect(frames.first?.text?.contains(#""type":"disconnect","code":1001"#) == true)
        #expect(frames.last?.closeCode == 1001)
        // Idle clients are closed without waiting for their answer.
        #expect(!client.channel.isActive)
    }

    @Test func aClientCloseIsAnsweredThenClosed() throws {
        let client = try Client()
        defer { client.finish() }
        try client.send(opcode: 0x8, payload: WebSocketWire.close(code: 1000))
        #expect(try client.frames().map(\.closeCode) == [1000])
        #expect(!client.channel.isActive)
    }

    @Test func aHubCloseWaitsForTheClientsAnswer() throws {
        let client = try Client()
        defer { client.finish() }
        client.connection.disconnect(code: .goingAway, reason: .kicked, message: "bye", reconnect: true)
        let frames = try client.frames()
        #expect(frames.first?.text == #"{"type":"disconnect","code":1001,"reason":"bye","reconnect":true}"#)
        #expect(frames.last?.closeCode == 1001)
        #expect(client.channel.isActive)
        // What the client still sends meanwhile is not served.
        try client.send(#"{"type":"ping","id":1}"#)
        #expect(try client.frames().isEmpty)
        try client.send(opcode: 0x8, payload: WebSocketWire.close(code: 1001))
        #expect(try client.frames().isEmpty)
        #expect(!client.channel.isActive)
    }

    @Test func aClientThatNeverAnswersIsClosedAtTheDeadline() throws {
        let client = try Client()
        defer { client.finish() }
        client.connection.disconnect(code: .goingAway, reason: .kicked, message: "bye", reconnect: true)
        _ = try client.frames()
        client.connection.sweep(now: .now() + .milliseconds(100))
        #expect(client.channel.isActive)
        client.connection.sweep(now: .now() + CloseHandshake.gracePeriod + .milliseconds(1))
        #expect(!client.channel.isActive)
    }

    @Test func aProtocolViolationClosesWith1002() throws {
        let client = try Client()
        defer { client.finish() }
        // A continuation frame with no message to continue.
        try client.send(opcode: 0x0, payload: [1])
        let frames = try client.frames()
        #expect(frames.first?.text?.contains(#""code":1002"#) == true)
        #expect(frames.last?.closeCode == 1002)
        #expect(!client.channel.isActive)
    }

    @Test func aClientThatStopsReadingIsCutWith4008() throws {
        var configuration = HubConfiguration()
        configuration.maxBacklog = 8 << 10
        let client = try Client(configuration: configuration, uri: "/ws?topic=chat:a")
        defer { client.finish() }
        _ = try client.texts()
        client.setWritable(false)
        try client.publish(5, to: "chat:a")
        // Within the backlog: queued, and the connection lives.
        #expect(client.channel.isActive)
        #expect(try client.texts().count == 5)
        try client.publish(3, to: "chat:a")
        // Past it: closed without a close frame, which the client would never read.
        #expect(!client.channel.isActive)
        #expect(try client.frames().allSatisfy { $0.opcode == 0x1 })
        #expect(try client.metrics.expectCounter(HubMetricName.slowConsumerDisconnects.rawValue).totalValue == 1)
    }

    @Test func overThePublishRateIsRateLimited() throws {
        var configuration = HubConfiguration()
        configuration.maxPublishRatePerConnection = 1
        let client = try Client(configuration: configuration)
        defer { client.finish() }
        try client.send(#"{"type":"publish","topic":"chat:a","data":1,"id":1}"#)
        try client.send(#"{"type":"direct","to":"bob","data":1,"id":2}"#)
        let answers = try client.texts()
        #expect(answers.first?.hasPrefix(#"{"type":"ack","id":1"#) == true)
        #expect(answers.last?.contains(#""id":2,"code":"rate_limited""#) == true)
    }

    // MARK: Authentication

    static func tokenRequired() -> HubConfiguration {
        var configuration = HubConfiguration()
        configuration.jwtSecret = AuthenticatorTests.secret
        return configuration
    }

    @Test func withoutATokenOnlyAuthAndPingAreServed() throws {
        let client = try Client(configuration: Self.tokenRequired())
        defer { client.finish() }
        try client.send(#"{"type":"subscribe","topic":"chat:a","id":1}"#)
        try client.send(#"{"type":"ping","id":2}"#)
        let answers = try client.texts()
        #expect(answers.first?.contains(#""id":1,"code":"unauthorized""#) == true)
        #expect(answers.last == #"{"type":"pong","id":2}"#)
        let token = AuthenticatorTests.token(#"{"sub":"ann","exp":\#(AuthenticatorTests.now + 600)}"#)
        try client.send(#"{"type":"auth","token":"\#(token)","id":3}"#)
        #expect(try client.texts().first?.hasPrefix(#"{"type":"auth_success","id":3,"client":"#) == true)
        try client.send(#"{"type":"subscribe","topic":"chat:a","id":4}"#)
        #expect(try client.texts() == [#"{"type":"subscribed","id":4,"topic":"chat:a"}"#])
    }

    @Test func aTokenAtConnectAuthenticatesBeforeTheTopicsAreSubscribed() throws {
        let token = AuthenticatorTests.token(#"{"sub":"ann"}"#)
        let client = try Client(configuration: Self.tokenRequired(), uri: "/ws?topic=chat:a&token=\(token)")
        defer { client.finish() }
        let answers = try client.texts()
        #expect(answers.count == 2)
        #expect(answers.first?.contains(#""type":"auth_success""#) == true && answers.first?.contains(#""user":"ann""#) == true)
        #expect(answers.last == #"{"type":"subscribed","topic":"chat:a"}"#)
    }

    @Test func aBadTokenIsFinal() throws {
        let client = try Client(configuration: Self.tokenRequired())
        defer { client.finish() }
        try client.send(#"{"type":"auth","token":"not-a-token","id":1}"#)
        let frames = try client.frames()
        #expect(frames.first?.text?.contains(#""id":1,"code":"unauthorized""#) == true)
        #expect(frames.dropFirst().first?.text?.contains(#""type":"disconnect","code":4001"#) == true)
        #expect(frames.last?.closeCode == 4001)
    }

    @Test func framesLargerThanATokenAreRefusedBeforeAuthentication() throws {
        let client = try Client(configuration: Self.tokenRequired())
        defer { client.finish() }
        try client.send(String(repeating: " ", count: WebSocketConnection.maxFrameBeforeAuth + 1))
        #expect(try client.frames().last?.closeCode == 1009)
        #expect(!client.channel.isActive)
    }
}
