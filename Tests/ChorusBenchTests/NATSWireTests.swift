import NIOCore
import Testing

@testable import ChorusBench

@Suite struct NATSWireTests {
    static let stream = ByteBuffer(string: "INFO {\"server_id\":\"x\",\"headers\":true}\r\n+OK\r\nPING\r\nMSG _INBOX.a.1 1 22\r\n{\"stream\":\"B\",\"seq\":1}\r\n"
        + "HMSG reply.x 2 _INBOX.r 12 15\r\nNATS/1.0\r\n\r\nabc\r\nMSG s 3 r 0\r\n\r\n-ERR 'Authorization Violation'\r\nPONG\r\n")

    static let expected: [NATSWire.Inbound] = [
        .info("{\"server_id\":\"x\",\"headers\":true}"), .ok, .ping,
        .message(subject: "_INBOX.a.1", sid: "1", reply: nil, payload: ByteBuffer(string: "{\"stream\":\"B\",\"seq\":1}")),
        .message(subject: "reply.x", sid: "2", reply: "_INBOX.r", payload: ByteBuffer(string: "abc")),
        .message(subject: "s", sid: "3", reply: "r", payload: ByteBuffer()),
        .error("'Authorization Violation'"), .pong,
    ]

    @Test func everyOperationParsesWhole() throws {
        var buffer = Self.stream
        #expect(try NATSWire.consume(from: &buffer) == Self.expected)
        #expect(buffer.readableBytes == 0)
    }

    @Test func operationsSplitAtEveryByteParseTheSame() throws {
        let bytes = Array(Self.stream.readableBytesView)
        for split in 1..<bytes.count {
            var buffer = ByteBuffer(bytes: bytes[..<split])
            var seen = try NATSWire.consume(from: &buffer)
            buffer.writeBytes(bytes[split...])
            seen += try NATSWire.consume(from: &buffer)
            #expect(seen == Self.expected, "split at \(split)")
        }
    }

    @Test func malformedInputIsAnErrorNotACrash() {
        for text in ["HELLO\r\n", "MSG s 1\r\n", "MSG s 1 -4\r\n", "HMSG s 1 9 4\r\nNATS/1.0\r\n", "MSG s 1 2\r\nabcd\r\n", String(repeating: "A", count: 5000)] {
            var buffer = ByteBuffer(string: text)
            #expect(throws: BenchError.self, "\(text.prefix(20))") { try NATSWire.consume(from: &buffer) }
        }
    }

    @Test func publishesAreFramedWithTheirSizes() {
        var buffer = ByteBuffer()
        NATSWire.publish("bench.1", reply: "_INBOX.c.1", payload: ByteBuffer(string: "hello"), into: &buffer)
        NATSWire.publish("bench.1", reply: "_INBOX.c.2", messageID: "c-2", payload: ByteBuffer(string: "hi"), into: &buffer)
        let headers = "NATS/1.0\r\nNats-Msg-Id: c-2\r\n\r\n"
        #expect(String(buffer: buffer) == "PUB bench.1 _INBOX.c.1 5\r\nhello\r\nHPUB bench.1 _INBOX.c.2 \(headers.utf8.count) \(headers.utf8.count + 2)\r\n\(headers)hi\r\n")
    }
}
