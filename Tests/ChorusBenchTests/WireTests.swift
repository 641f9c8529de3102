import NIOCore
import Testing

@testable import ChorusBench

@Suite struct WireTests {
    @Test func clientFramesAreMaskedWithTheZeroKeyAndParseBack() {
        for length in [0, 125, 126, 65535, 65536] {
            let payload = ByteBuffer(repeating: 0x61, count: length)
            let frame = WebSocketWire.clientFrame(opcode: WebSocketWire.text, payload: payload, allocator: ByteBufferAllocator())
            let header = WebSocketWire.header(in: frame, at: frame.readerIndex)
            #expect(header?.opcode == WebSocketWire.text)
            #expect(header?.payloadLength == length)
            #expect(frame.readableBytes == header!.headerLength + length)
            #expect(frame.getSlice(at: header!.headerLength, length: length) == payload)
        }
    }

    @Test func aHeaderThatHasNotFullyArrivedIsNil() {
        let buffer = ByteBuffer(bytes: [0x81, 126, 0x01])
        #expect(WebSocketWire.header(in: buffer, at: 0) == nil)
        #expect(WebSocketWire.header(in: ByteBuffer(bytes: [0x81]), at: 0) == nil)
    }

    @Test func framesSplitAnywhereAreReassembled() {
        var wire = ByteBuffer()
        for text in ["one", "two", String(repeating: "x", count: 300)] {
            wire.writeBytes([0x81])
            if text.utf8.count < 126 {
                wire.writeInteger(UInt8(text.utf8.count))
            } else {
                wire.writeInteger(UInt8(126))
                wire.writeInteger(UInt16(text.utf8.count))
            }
            wire.writeString(text)
        }
        for split in [1, 2, 5, 7, 100] {
            var frames = InboundFrames()
            var seen: [String] = []
            var rest = wire
            while rest.readableBytes > 0 {
                frames.append(rest.readSlice(length: min(split, rest.readableBytes))!)
                frames.drain { header, buffer, index in
                    seen.append(buffer.getString(at: index, length: header.payloadLength)!)
                    return true
                }
            }
            #expect(seen == ["one", "two", String(repeating: "x", count: 300)])
        }
    }

    @Test func responseHeadWaitsForTheBlankLineAndReadsStatusAndChunking() throws {
        var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n")
        #expect(try ResponseHead.consume(from: &buffer) == nil)
        buffer.writeString("\r\nrest")
        let head = try #require(try ResponseHead.consume(from: &buffer))
        #expect(head.status == 200 && head.chunked)
        #expect(String(buffer: buffer) == "rest")
        var garbage = ByteBuffer(string: "SSH-2.0\r\n\r\n")
        #expect(throws: BenchError.self) { try ResponseHead.consume(from: &garbage) }
    }

    @Test func stampsRoundTripInsideAChorusFrameAndPadToSize() throws {
        var payload = ByteBuffer()
        let stamp = BenchStamp(source: 3, sequence: 1_234_567, sentNanoseconds: 98_765_432_101_234)
        stamp.write(into: &payload, size: 100)
        #expect(payload.readableBytes == 100)
        var frame = ByteBuffer(string: #"{"type":"message","topic":"bench-0","event":"message","data":"#)
        frame.writeImmutableBuffer(payload)
        frame.writeString(#","message_id":"x-1","ts":1}"#)
        #expect(BenchStamp.find(in: frame, at: 0, length: frame.readableBytes) == stamp)
        #expect(BenchStamp.find(in: ByteBuffer(string: #"{"bench_p":1,"bench_s":"#), at: 0, length: 22) == nil)
    }

    @Test func eventStreamDataLinesAreFoundAcrossChunksAndSplits() {
        let stream = "HTTP-ignored\r\n: connected c1\n\n\r\n2f\r\nid: 1\nevent: message\ndata: {\"a\":1}\n\n\r\n10\r\nid: 2\ndata: second\n\n"
        let bytes = Array(stream.utf8)
        for split in [1, 3, 8, 1000] {
            var lines = SSEDataLines()
            var seen: [String] = []
            var offset = 0
            while offset < bytes.count {
                let chunk = ByteBuffer(bytes: bytes[offset..<min(offset + split, bytes.count)])
                lines.scan(chunk) { buffer, index, length in seen.append(buffer.getString(at: index, length: length)!) }
                offset += split
            }
            #expect(seen == [" {\"a\":1}", " second"])
        }
    }
}
