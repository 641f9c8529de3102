public import NIOCore

/// The NATS client protocol, as far as a JetStream publisher needs it: the server's `INFO`,
/// `MSG`/`HMSG` (acknowledgements and API answers arrive on the client's reply subjects),
/// `PING`, `PONG`, `+OK` and `-ERR`; and the client's `CONNECT`, `SUB`, `PUB`, `HPUB` and `PONG`.
public enum NATSWire {
    /// One operation from the server.
    public enum Inbound: Equatable, Sendable {
        case info(String)
        /// A message on a subscription: its subject, subscription id, reply subject and payload
        /// (for `HMSG`, without the headers).
        case message(subject: String, sid: String, reply: String?, payload: ByteBuffer)
        case ping
        case pong
        case ok
        case error(String)
    }

    /// Longest control line accepted (the server's own default `max_control_line` is 4 KiB).
    static let maxControlLine = 4096

    /// Parses the complete operations at the start of `buffer` and moves its reader index past
    /// them; an incomplete one stays for the next read.
    public static func consume(from buffer: inout ByteBuffer) throws(BenchError) -> [Inbound] {
        var operations: [Inbound] = []
        while let lineEnd = buffer.firstIndex(of: Self.crlf) {
            let lineLength = lineEnd - buffer.readerIndex
            guard lineLength <= Self.maxControlLine else { throw BenchError("NATS: a control line longer than \(Self.maxControlLine) bytes") }
            let line = buffer.getString(at: buffer.readerIndex, length: lineLength) ?? ""
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            let verb = fields.first.map { $0.uppercased() } ?? ""
            switch verb {
            case "MSG", "HMSG":
                // MSG subject sid [reply] size; HMSG subject sid [reply] header-size total-size
                let counts = verb == "MSG" ? (3, 4) : (4, 5)
                guard fields.count == counts.0 + 1 || fields.count == counts.1 + 1,
                    let total = Int(fields[fields.count - 1]), total >= 0,
                    let headerSize = verb == "MSG" ? 0 : Int(fields[fields.count - 2]), (0...total).contains(headerSize)
                else {
                    throw BenchError("NATS: malformed '\(line.prefix(80))'")
                }
                // The payload and its CRLF must have arrived too.
                guard buffer.readableBytes >= lineLength + 2 + total + 2 else { return operations }
                buffer.moveReaderIndex(forwardBy: lineLength + 2 + headerSize)
                let payload = buffer.readSlice(length: total - headerSize)!
                guard buffer.readBytes(length: 2) == Self.crlf else { throw BenchError("NATS: a message's payload is longer than announced") }
                let hasReply = fields.count == counts.1 + 1
                operations.append(.message(subject: String(fields[1]), sid: String(fields[2]), reply: hasReply ? String(fields[3]) : nil, payload: payload))
                continue
            case "INFO":
                operations.append(.info(String(line.dropFirst(4).drop(while: { $0 == " " }))))
            case "PING":
                operations.append(.ping)
            case "PONG":
                operations.append(.pong)
            case "+OK":
                operations.append(.ok)
            case "-ERR":
                operations.append(.error(String(line.dropFirst(4).drop(while: { $0 == " " }))))
            default:
                throw BenchError("NATS: unexpected '\(line.prefix(80))'")
            }
            buffer.moveReaderIndex(forwardBy: lineLength + 2)
        }
        // What is left is the start of a control line (a message's payload returned above).
        if buffer.readableBytes > Self.maxControlLine {
            throw BenchError("NATS: a control line longer than \(Self.maxControlLine) bytes")
        }
        return operations
    }

    /// `CONNECT`: no `+OK` per operation, headers on (for `Nats-Msg-Id`), a `503` answer
    /// rather than silence when a subject has no stream.
    public static func connect(into buffer: inout ByteBuffer) {
        buffer.writeString(#"CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"name":"chorus-bench","lang":"swift","version":"1"}"#)
        buffer.writeBytes(Self.crlf)
    }

    /// `SUB subject sid`.
    public static func subscribe(_ subject: String, sid: String, into buffer: inout ByteBuffer) {
        buffer.writeString("SUB \(subject) \(sid)\r\n")
    }

    /// `PUB subject reply size` and the payload.
    public static func publish(_ subject: String, reply: String, payload: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeString("PUB \(subject) \(reply) \(payload.readableBytes)\r\n")
        buffer.writeImmutableBuffer(payload)
        buffer.writeBytes(Self.crlf)
    }

    /// `HPUB` with a `Nats-Msg-Id` header: JetStream's idempotency key, as `event_id` is Chorus's.
    public static func publish(_ subject: String, reply: String, messageID: String, payload: ByteBuffer, into buffer: inout ByteBuffer) {
        let headers = "NATS/1.0\r\nNats-Msg-Id: \(messageID)\r\n\r\n"
        let headerSize = headers.utf8.count
        buffer.writeString("HPUB \(subject) \(reply) \(headerSize) \(headerSize + payload.readableBytes)\r\n")
        buffer.writeString(headers)
        buffer.writeImmutableBuffer(payload)
        buffer.writeBytes(Self.crlf)
    }

    /// `PONG`, the answer to the server's `PING`.
    public static func pong(into buffer: inout ByteBuffer) {
        buffer.writeString("PONG\r\n")
    }

    /// `PING`: the server answers `PONG` after every operation before it (a round trip).
    public static func ping(into buffer: inout ByteBuffer) {
        buffer.writeString("PING\r\n")
    }

    static let crlf: [UInt8] = [13, 10]
}
