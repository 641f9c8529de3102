import Foundation
import NIOCore
import Testing

@testable import ChorusBench

/// `--payload`: the bodies a Chorus publisher sends, and the stamp found again in what a
/// subscriber receives, raw or base64'd in JSON.
@Suite struct PayloadEncodingTests {
    let stamp = BenchStamp(source: 3, sequence: 7, sentNanoseconds: 123_456)

    func body(_ encoding: PayloadEncoding) -> ByteBuffer {
        ServerProtocol.chorus.publishBody(topic: "t.1", encoding: encoding, payload: { self.stamp.write(into: &$0, size: 64) }, allocator: ByteBufferAllocator())
    }

    @Test func eachEncodingCarriesTheStamp() throws {
        let binary = self.body(.binary)
        #expect(BenchStamp.find(in: binary, at: binary.readerIndex, length: binary.readableBytes) == self.stamp)
        #expect(binary.readableBytes >= 64 && binary.getInteger(at: binary.readerIndex, as: UInt8.self) == UInt8(ascii: "{"))

        let base64 = self.body(.base64)
        let text = String(buffer: base64)
        #expect(text.hasPrefix(#"{"topic":"t.1","data":""#))
        #expect(BenchStamp.find(in: base64, at: base64.readerIndex, length: base64.readableBytes) == nil)
        #expect(BenchStamp.findInBase64(in: base64, at: base64.readerIndex, length: base64.readableBytes) == self.stamp)

        let json = self.body(.json)
        #expect(String(buffer: json).hasPrefix(#"{"topic":"t.1","data":{"bench_p":3"#))
    }

    @Test func aFrameWithoutBase64DataHasNoStamp() {
        let frame = ByteBuffer(string: #"{"type":"message","data":"not base64!"}"#)
        #expect(BenchStamp.findInBase64(in: frame, at: 0, length: frame.readableBytes) == nil)
    }
}
