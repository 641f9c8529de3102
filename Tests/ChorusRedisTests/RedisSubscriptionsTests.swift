@testable import ChorusRedis
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@Suite struct RedisSubscriptionsTests {
    final class Received: Sendable {
        let messages = Mutex<[String]>([])
        func record(_ channel: ByteBuffer, _ payload: ByteBuffer) {
            self.messages.withLock { $0.append("\(String(buffer: channel))=\(String(buffer: payload))") }
        }
    }

    let received = Received()
    let subscriptions: RedisSubscriptions
    let channel = EmbeddedChannel()

    init() throws {
        let received = self.received
        let subscriptions = RedisSubscriptions { received.record($0, $1) }
        self.subscriptions = subscriptions
        try self.channel.pipeline.syncOperations.addHandlers(
            ByteToMessageHandler(RESPDecoder(limits: RESPParser.Limits())),
            RedisCommandHandler(timeout: .seconds(5), pushes: { subscriptions.route($0) })
        )
        try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
    }

    func written() throws -> [RESPValue] {
        self.channel.embeddedEventLoop.run()
        var parser = RESPParser()
        var values: [RESPValue] = []
        while var buffer = try self.channel.readOutbound(as: ByteBuffer.self) {
            while let value = try parser.next(from: &buffer) {
                values.append(value)
            }
        }
        return values
    }

    static func command(_ words: String...) -> RESPValue {
        .array(words.map { .bulkString(ByteBuffer(string: $0)) })
    }

    @Test func aNewConnectionGetsEverySubscriptionThenAPing() throws {
        self.subscriptions.change(.channel, ["b", "a", "a"], subscribing: true)
        self.subscriptions.change(.pattern, ["t.*"], subscribing: true)
        self.subscriptions.change(.shard, ["s"], subscribing: true)
        let confirmed = Outcome(self.subscriptions.resubscribe(on: self.channel))
        #expect(try self.written() == [
            Self.command("SUBSCRIBE", "a", "b"), Self.command("PSUBSCRIBE", "t.*"), Self.command("SSUBSCRIBE", "s"), Self.command("PING"),
        ])
        try self.channel.writeInbound(ByteBuffer(string: "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"))
        #expect(confirmed.isPending)
        try self.channel.writeInbound(ByteBuffer(string: "*3\r\n$10\r\npsubscribe\r\n$3\r\nt.*\r\n:3\r\n*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n"))
        #expect(confirmed.value != nil)
    }

    @Test func changesAreIdempotentAndOnlyChangesAreSent() throws {
        _ = self.subscriptions.resubscribe(on: self.channel)
        _ = try self.written()
        self.subscriptions.change(.channel, ["x"], subscribing: true)
        self.subscriptions.change(.channel, ["x"], subscribing: true)
        self.subscriptions.change(.channel, ["x", "y"], subscribing: false)
        self.subscriptions.change(.channel, ["y"], subscribing: false)
        #expect(try self.written() == [Self.command("SUBSCRIBE", "x"), Self.command("UNSUBSCRIBE", "x")])
        #expect(self.subscriptions.names(.channel).isEmpty)
    }

    @Test func messagesOfEveryKindReachTheHandler() throws {
        try self.channel.writeInbound(ByteBuffer(string: "*3\r\n$7\r\nmessage\r\n$2\r\nc1\r\n$5\r\nhello\r\n"))
        try self.channel.writeInbound(ByteBuffer(string: "*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nc2\r\n$0\r\n\r\n"))
        try self.channel.writeInbound(ByteBuffer(string: "*3\r\n$8\r\nsmessage\r\n$2\r\ns1\r\n$3\r\n\u{0}\u{1}\u{2}\r\n"))
        #expect(self.received.messages.withLock { $0 } == ["c1=hello", "c2=", "s1=\u{0}\u{1}\u{2}"])
        #expect(self.channel.isActive)
    }
}
