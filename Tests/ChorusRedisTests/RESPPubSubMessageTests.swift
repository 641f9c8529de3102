@testable import ChorusRedis
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@Suite struct RESPPubSubMessageTests {
    static let wire = "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
        + "*4\r\n$8\r\npmessage\r\n$3\r\nn.*\r\n$3\r\nn.a\r\n$0\r\n\r\n"
        + "*3\r\n$8\r\nsmessage\r\n$2\r\ns1\r\n$3\r\na\r\n\r\n"

    static func read(_ wire: String) -> (RESPPubSubMessage.Read, left: String) {
        var buffer = ByteBuffer(string: wire)
        let read = RESPPubSubMessage.read(from: &buffer, maxBulkLength: 100)
        return (read, String(buffer: buffer))
    }

    @Test func readsEachKindAsChannelAndPayload() {
        var buffer = ByteBuffer(string: Self.wire)
        var messages: [String] = []
        while case .message(let channel, let payload) = RESPPubSubMessage.read(from: &buffer, maxBulkLength: 100) {
            messages.append("\(String(buffer: channel))=\(String(buffer: payload))")
        }
        #expect(messages == ["news=hello", "n.a=", "s1=a\r\n"])
        #expect(buffer.readableBytes == 0)
    }

    @Test func waitsForTheRestAtEverySplitPointConsumingNothing() {
        let message = "*4\r\n$8\r\npmessage\r\n$3\r\nn.*\r\n$3\r\nn.a\r\n$2\r\nhi\r\n"
        for split in 0..<message.utf8.count {
            let prefix = String(message.utf8.prefix(split))!
            let (read, left) = Self.read(prefix)
            #expect(read == .needMoreData && left == prefix, "split at \(split)")
        }
    }

    @Test(arguments: [
        "+OK\r\n",
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
        "*2\r\n$4\r\npong\r\n$0\r\n\r\n",
        "*3\r\n$7\r\nmessage\r\n$-1\r\n$1\r\nx\r\n",
        "*3\r\n$7\r\nmessage\r\n$1\n",
        "*3\r\n$7\r\nmessage\r\n$1\rx",
        "*3\r\n$7\r\nmessage\r\n$101\r\n",
        "*3\r\n$7\r\nmessage\r\n$1\r\nab\r\n",
        "*3\r\n$7\r\nmessage\r\n:1\r\n",
    ])
    func leavesEverythingElseToTheParser(wire: String) {
        let (read, left) = Self.read(wire)
        #expect(read == .other && left == wire)
    }

    @Test func theSubscriberDecoderHandsMessagesOverDirectly() throws {
        let received = Mutex<[String]>([])
        let channel = EmbeddedChannel()
        let decoder = RESPDecoder(limits: RESPParser.Limits()) { channel, payload in
            received.withLock { $0.append("\(String(buffer: channel))=\(String(buffer: payload))") }
        }
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
        // A reply, messages, and one cut in two.
        try channel.writeInbound(ByteBuffer(string: "+OK\r\n" + Self.wire.dropLast(3)))
        try channel.writeInbound(ByteBuffer(string: String(Self.wire.suffix(3))))
        #expect(received.withLock { $0 } == ["news=hello", "n.a=", "s1=a\r\n"])
        #expect(try channel.readInbound(as: RESPValue.self) == .simpleString(ByteBuffer(string: "OK")))
        #expect(try channel.readInbound(as: RESPValue.self) == nil)
    }
}
