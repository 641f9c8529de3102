public import NIOCore

/// The status line and headers of an HTTP/1.1 response, as far as a subscriber needs them: the
/// status, and whether the body is chunked.
public struct ResponseHead: Equatable, Sendable {
    public var status: Int
    public var statusLine: String
    public var chunked: Bool

    private static let terminator: [UInt8] = Array("\r\n\r\n".utf8)

    /// Parses the head at the start of `buffer` and moves the reader index past it; nil (and
    /// the buffer untouched) when the blank line that ends it has not arrived yet.
    public static func consume(from buffer: inout ByteBuffer) throws(BenchError) -> ResponseHead? {
        guard let end = buffer.firstIndex(of: Self.terminator) else {
            if buffer.readableBytes > 16_384 { throw BenchError("response head longer than 16 KiB") }
            return nil
        }
        let text = buffer.readString(length: end - buffer.readerIndex + 4) ?? ""
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
        let statusLine = lines.first.map(String.init) ?? ""
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw BenchError("not an HTTP response: \(statusLine.prefix(80))")
        }
        let chunked = lines.dropFirst().contains {
            let lower = $0.lowercased()
            return lower.hasPrefix("transfer-encoding:") && lower.contains("chunked")
        }
        return ResponseHead(status: status, statusLine: statusLine, chunked: chunked)
    }
}

/// Collects the answer to an upgrade (or event-stream GET) until its head is complete.
struct UpgradeResponse {
    private var pending = ByteBuffer()
    private(set) var isComplete = false

    /// Takes the bytes of one read. Until the head is complete, returns nil; then checks its
    /// status and returns whatever followed it in the same read (the first frames or events).
    mutating func receive(_ buffer: inout ByteBuffer, expecting status: Int) throws(BenchError) -> ByteBuffer? {
        self.pending.writeBuffer(&buffer)
        guard let head = try ResponseHead.consume(from: &self.pending) else { return nil }
        guard head.status == status else { throw BenchError("HTTP \(head.status) (\(head.statusLine))") }
        self.isComplete = true
        defer { self.pending = ByteBuffer() }
        return self.pending
    }
}
