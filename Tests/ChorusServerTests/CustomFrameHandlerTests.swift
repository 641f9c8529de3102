import ChorusCore
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import ChorusServer

/// The library API: an application registers handlers for its own frame types.
@Suite struct CustomFrameHandlerTests {
    @Test func registeredTypesAreRoutedToTheirHandlers() async throws {
        let configuration = HubConfiguration.isolated()
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        let portBox = PortBox()
        let server = try await ChorusServer(
            configuration: configuration,
            customHandlers: [
                // Relays typing notices to the room's topic, as a chat application would.
                "typing:start": { context throws(ProtocolError) in
                    let room = try context.fields.topic("room")
                    let payload = ByteBuffer(string: #"{"user":"\#(context.connection.client)"}"#)
                    _ = try context.hub.publish(topic: room, event: "typing", data: payload)
                    return nil
                },
                "echo:upper": { context throws(ProtocolError) in
                    let text = try context.fields.requiredString("text")
                    var fields = ByteBuffer()
                    fields.writeStaticString(#"{"text":"#)
                    fields.writeJSONString(text.uppercased())
                    fields.writeStaticString("}")
                    return .custom(type: "echo:upper", fields: fields)
                },
                "always:fails": { _ throws(ProtocolError) in throw ProtocolError(.forbidden, "not for you") },
            ],
            onServerRunning: { port in await portBox.set(port) }
        )
        let running = Task { try await server.run() }
        defer { running.cancel() }
        let port = try await portBox.wait()

        var client = try await TestWebSocketClient.connect(port: port, path: "/ws?topic=room:1")
        do {
            try await self.exercise(&client)
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }

    func exercise(_ client: inout TestWebSocketClient) async throws {
        #expect(try await client.receive().text == #"{"type":"subscribed","topic":"room:1"}"#)

        try await client.send(#"{"type":"echo:upper","id":1,"text":"hi"}"#)
        #expect(try await client.receive().text == #"{"type":"echo:upper","id":1,"text":"HI"}"#)

        try await client.send(#"{"type":"typing:start","id":2,"room":"room:1"}"#)
        let first = try await client.receive().text
        let second = try await client.receive().text
        let frames = [first, second]
        #expect(frames.contains(#"{"type":"ack","id":2}"#))
        let typing = try #require(frames.first { $0.contains(#""type":"message""#) })
        #expect(typing.contains(#""topic":"room:1","event":"typing""#))

        try await client.send(#"{"type":"always:fails","id":3}"#)
        #expect(try await client.receive().text == #"{"type":"error","id":3,"code":"forbidden","message":"not for you"}"#)

        try await client.send(#"{"type":"not:registered","id":4}"#)
        #expect(try await client.receive().text.contains(#""code":"unknown_type""#))
    }
}

/// A handler acting for the client through its context is held to the client's own rights.
@Suite struct CustomFrameAuthorizationTests {
    static func context(for identity: Identity, configuration: HubConfiguration, fields: String) throws -> (CustomFrameContext, MultiThreadedEventLoopGroup) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let hub = try Hub(configuration: configuration, eventLoopGroup: group, authenticator: try Authenticator(configuration: configuration))
        let connection = hub.makeConnectionInfo(transport: .webSocket, user: identity.user, remoteAddress: nil)
        let access = TopicAccess.make(for: identity, configuration: configuration)
        let context = CustomFrameContext(hub: hub, connection: connection, type: "demo:typing", fields: try JSONObject(parsing: ByteBuffer(string: fields)), access: access)
        return (context, group)
    }

    @Test func demoTypingObeysTheNamespacePublishRule() throws {
        var configuration = HubConfiguration()
        configuration.namespaces = ["demo-typing": NamespaceOptions(publish: .server)]
        let handler = try #require(DemoFrameHandlers.all["demo:typing"])
        let readOnly = Identity(user: "ann", expiresAt: nil, permissions: TokenPermissions(subscribe: nil, publish: []))
        for identity in [Identity.anonymous, readOnly] {
            let (context, group) = try Self.context(for: identity, configuration: configuration, fields: #"{"type":"demo:typing","room":"lobby"}"#)
            defer { try? group.syncShutdownGracefully() }
            #expect(throws: ProtocolError.self) { try handler(context) }
            #expect(context.hub.metrics.totals().published == 0)
        }
        // Where the client may publish, the handler publishes for it.
        let (context, group) = try Self.context(for: .anonymous, configuration: HubConfiguration(), fields: #"{"type":"demo:typing","room":"lobby"}"#)
        defer { try? group.syncShutdownGracefully() }
        #expect(try handler(context) == nil)
        #expect(context.hub.metrics.totals().published == 1)
    }

    @Test func sendingToAUserObeysDirectRules() throws {
        let (context, group) = try Self.context(for: .anonymous, configuration: HubConfiguration(), fields: "{}")
        defer { try? group.syncShutdownGracefully() }
        let error = #expect(throws: ProtocolError.self) { try context.send(toUser: "bob", event: nil, data: ByteBuffer(string: "1")) }
        #expect(error?.code == .forbidden)
    }
}

/// Hands the bound port from the server's start callback to the test.
actor PortBox {
    private var port: Int?
    private var waiters: [CheckedContinuation<Int, Never>] = []

    func set(_ port: Int) {
        self.port = port
        for waiter in self.waiters { waiter.resume(returning: port) }
        self.waiters.removeAll()
    }

    func wait() async throws -> Int {
        if let port { return port }
        return await withCheckedContinuation { self.waiters.append($0) }
    }
}
