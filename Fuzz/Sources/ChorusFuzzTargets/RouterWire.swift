import NIOCore

/// What the `router` target's connection wrote to its socket, checked as it arrives: HTTP/1.1
/// responses, the stand-in's in request order; after a `101` only whole WebSocket server
/// frames; after an SSE response head its stream (not checked); after a response that says
/// `Connection: close`, nothing.
struct RouterWire {
    private enum Stage {
        case http
        case webSocket
        case eventStream
        case closed
    }

    private var stage = Stage.http
    private var pending: [UInt8] = []
    /// The number the next stand-in response must carry (`r<number>`).
    private var nextAnswer = 0

    mutating func received(_ bytes: ByteBuffer) {
        precondition(self.stage != .closed || bytes.readableBytes == 0, "bytes were written after a response that closes the connection: \(String(buffer: bytes))")
        self.pending += bytes.readableBytesView
        while self.consumeOne() {}
    }

    /// The connection has closed: what was written must end on a boundary.
    func finished() {
        precondition(self.stage == .eventStream || self.pending.isEmpty, "the connection ended in the middle of a response or frame: \(self.pending)")
    }

    private mutating func consumeOne() -> Bool {
        switch self.stage {
        case .http: return self.consumeResponse()
        case .webSocket: return self.consumeFrame()
        case .eventStream:
            self.pending.removeAll()
            return false
        case .closed: return false
        }
    }

    private mutating func consumeResponse() -> Bool {
        guard let headEnd = Self.range(of: Array("\r\n\r\n".utf8), in: self.pending) else { return false }
        let head = String(decoding: self.pending[..<headEnd], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst()
        precondition(statusLine.hasPrefix("HTTP/1.1 ") && statusLine.count >= 12, "not an HTTP/1.1 status line: \(statusLine)")
        let status = Int(statusLine.dropFirst(9).prefix(3))
        precondition(status != nil, "no status code: \(statusLine)")
        var fields: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1)
            precondition(parts.count == 2, "a header line without ':': \(line)")
            fields[parts[0].lowercased()] = parts[1].trimmingCharacters(in: " ")
        }
        let bodyStart = headEnd + 4
        if status == 101 {
            self.pending.removeFirst(bodyStart)
            self.stage = .webSocket
            return true
        }
        if fields["content-type"] == "text/event-stream" {
            self.pending.removeAll()
            self.stage = .eventStream
            return false
        }
        guard let lengthField = fields["content-length"], let length = Int(lengthField) else {
            preconditionFailure("a response without content-length: \(head)")
        }
        guard self.pending.count >= bodyStart + length else { return false }
        let body = String(decoding: self.pending[bodyStart..<bodyStart + length], as: UTF8.self)
        self.pending.removeFirst(bodyStart + length)
        if body.hasPrefix("r"), let number = Int(body.dropFirst()) {
            precondition(number == self.nextAnswer, "response r\(number) came where r\(self.nextAnswer) was due")
            self.nextAnswer += 1
        }
        if fields["connection"]?.lowercased() == "close" {
            precondition(self.pending.isEmpty, "bytes follow a response that closes the connection")
            self.stage = .closed
            return false
        }
        return true
    }

    /// One unmasked server frame with a known opcode and no reserved bits.
    private mutating func consumeFrame() -> Bool {
        guard self.pending.count >= 2 else { return false }
        let opcode = self.pending[0] & 0x0F
        precondition(self.pending[0] & 0x70 == 0 && [0, 1, 2, 8, 9, 10].contains(opcode), "not a WebSocket frame after the 101: \(self.pending.prefix(16))")
        precondition(self.pending[1] & 0x80 == 0, "a masked frame from the server")
        var headerLength = 2
        var length = Int(self.pending[1] & 0x7F)
        if length >= 126 {
            headerLength += length == 126 ? 2 : 8
            guard self.pending.count >= headerLength else { return false }
            length = self.pending[2..<headerLength].reduce(0) { $0 << 8 | Int($1) }
        }
        guard self.pending.count >= headerLength + length else { return false }
        self.pending.removeFirst(headerLength + length)
        return true
    }

    private static func range(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...haystack.count - needle.count).first { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        String(self.drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}
