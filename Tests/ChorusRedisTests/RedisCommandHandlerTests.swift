@testable import ChorusRedis
import NIOCore
import NIOEmbedded
import Testing

@Suite struct RedisCommandHandlerTests {
    let channel = EmbeddedChannel()

    init() throws {
        try self.channel.pipeline.syncOperations.addHandlers(
            ByteToMessageHandler(RESPDecoder(limits: RESPParser.Limits())),
            RedisCommandHandler(timeout: .seconds(1))
        )
        try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
    }

    /// Writes `command`; a write the closed channel refuses fails it, as `Channel.send` does.
    func send(_ command: RESPCommand) -> Outcome<RESPValue> {
        let promise = self.channel.eventLoop.makePromise(of: RESPValue.self)
        do {
            try self.channel.writeOutbound(RedisRequest.command(command, promise))
        } catch {
            promise.fail(error)
        }
        return Outcome(promise.futureResult)
    }

    func reply(_ wire: String) throws {
        try self.channel.writeInbound(ByteBuffer(string: wire))
    }

    func written() throws -> String {
        var text = ""
        while let buffer = try self.channel.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }

    @Test func pipelinedRepliesCompleteTheirCommandsInOrder() throws {
        let set = self.send(RESPCommand("SET", "k", "v"))
        let incr = self.send(RESPCommand("INCR", "n"))
        let get = self.send(RESPCommand("GET", "k"))
        #expect(try self.written() == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        #expect(set.isPending && incr.isPending && get.isPending)
        try self.reply("+OK\r\n:2\r\n$1")
        #expect(set.value == .simpleString(ByteBuffer(string: "OK")) && incr.value == .integer(2) && get.isPending)
        try self.reply("\r\nv\r\n")
        #expect(get.value == .bulkString(ByteBuffer(string: "v")))
    }

    @Test func aServerErrorInAPipelineFailsOnlyItsCommand() throws {
        let first = self.send(RESPCommand("PING"))
        let bad = self.send(RESPCommand("NOPE"))
        let third = self.send(RESPCommand("PING"))
        try self.reply("+PONG\r\n-ERR unknown command 'NOPE'\r\n+PONG\r\n")
        #expect(first.value != nil && third.value != nil)
        #expect(bad.error as? RedisError == RedisError.server("ERR unknown command 'NOPE'"))
        #expect(self.channel.isActive)
    }

    @Test func aBatchKeepsErrorRepliesAsValues() throws {
        let promise = self.channel.eventLoop.makePromise(of: [RESPValue].self)
        let after = Outcome(promise.futureResult)
        try self.channel.writeOutbound(RedisRequest.batch([RESPCommand("INCR", "a"), RESPCommand("NOPE"), RESPCommand("INCR", "a")], promise))
        let single = self.send(RESPCommand("PING"))
        try self.reply(":1\r\n-ERR no\r\n:2\r\n+PONG\r\n")
        #expect(after.value == [.integer(1), .error(ByteBuffer(string: "ERR no")), .integer(2)])
        #expect(single.value == .simpleString(ByteBuffer(string: "PONG")))
    }

    @Test func aTimeoutFailsTheCommandAndResetsTheConnection() throws {
        let slow = self.send(RESPCommand("BLPOP", "q", 0))
        self.channel.embeddedEventLoop.advanceTime(by: .milliseconds(600))
        let next = self.send(RESPCommand("PING"))
        self.channel.embeddedEventLoop.advanceTime(by: .milliseconds(400))
        #expect((slow.error as? RedisError)?.code == .timeout)
        #expect((next.error as? RedisError)?.code == .connectionClosed)
        #expect(!self.channel.isActive)
        // A reply that comes late is never taken for a later command: the connection is gone.
        #expect(self.send(RESPCommand("PING")).error != nil)
    }

    @Test func eachCommandHasItsOwnDeadline() throws {
        let first = self.send(RESPCommand("PING"))
        self.channel.embeddedEventLoop.advanceTime(by: .milliseconds(600))
        let second = self.send(RESPCommand("PING"))
        try self.reply("+PONG\r\n")
        self.channel.embeddedEventLoop.advanceTime(by: .milliseconds(500))
        #expect(first.value != nil && second.isPending)
        self.channel.embeddedEventLoop.advanceTime(by: .milliseconds(500))
        #expect((second.error as? RedisError)?.code == .timeout)
    }

    @Test func aCloseMidReplyFailsWhatWaits() throws {
        let get = self.send(RESPCommand("GET", "k"))
        let ping = self.send(RESPCommand("PING"))
        try self.reply("$10\r\nabc")
        self.channel.pipeline.fireChannelInactive()
        #expect((get.error as? RedisError)?.code == .connectionClosed)
        #expect((ping.error as? RedisError)?.code == .connectionClosed)
        #expect(self.send(RESPCommand("PING")).error != nil)
    }

    @Test func aMalformedReplyIsAProtocolError() throws {
        let get = self.send(RESPCommand("GET", "k"))
        try? self.reply("$abc\r\n")
        #expect((get.error as? RedisError)?.code == .protocolError)
        #expect(!self.channel.isActive)
    }

    @Test func aReplyNoCommandWaitsForIsAProtocolError() throws {
        try? self.reply("+OK\r\n")
        #expect(!self.channel.isActive)
    }
}
