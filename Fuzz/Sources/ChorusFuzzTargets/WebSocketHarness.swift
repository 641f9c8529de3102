import ChorusCore
import ChorusServer
import NIOCore
import NIOWebSocket

/// Feeds fuzzed frames to the receive side of a `/ws` connection: ``WebSocketMessageAssembler``,
/// then, for each whole text message, the client frame decoder (``FrameDecoderHarness``).
///
/// The first byte picks how the rest becomes frames: even, a raw client byte stream cut into
/// frames by NIO's decoder, as on the socket; odd, frames built by ``FuzzWebSocketFrames`` from
/// flag bytes and payload pieces, which reaches fragmentation and control frames more often.
/// UTF-8 verdicts are checked against the standard library's, and every frame the hub would
/// answer with (pong, close) must decode back to what it was built from.
enum WebSocketHarness {
    /// Small, so that the fuzzer reaches the size limit.
    static let maxMessageSize = 1024

    static func run(_ input: UnsafeRawBufferPointer) {
        var fuzzInput = FuzzInput(input)
        let frames =
            fuzzInput.choice(of: 2) == 0
            ? FuzzWebSocketFrames.decode(ByteBuffer(bytes: fuzzInput.rest()), maxFrameSize: self.maxMessageSize)
            : FuzzWebSocketFrames.build(from: &fuzzInput, maxFrameSize: self.maxMessageSize)

        var assembler = WebSocketMessageAssembler(maxMessageSize: self.maxMessageSize)
        for frame in frames {
            self.checkUTF8Verdict(frame.unmaskedData)
            switch assembler.receive(frame) {
            case nil, .pong:
                continue
            case .message(let text, let data):
                precondition(data.readableBytes <= self.maxMessageSize, "a \(data.readableBytes)-byte message passed the limit")
                self.checkUTF8Verdict(data)
                if text {
                    precondition(data.isValidUTF8, "a text message with invalid UTF-8 was accepted")
                    data.withUnsafeReadableBytes { FrameDecoderHarness.run($0) }
                }
            case .ping(let payload):
                let pong = WebSocketFrameEncoding.controlFrame(opcode: 0xA, payload: payload, allocator: ByteBufferAllocator())
                let echoed = FuzzWebSocketFrames.decodeOne(pong)
                precondition(echoed?.opcode == .pong && echoed?.unmaskedData == payload, "the pong does not echo the ping")
            case .close(let code):
                self.checkClose(code: code, reason: "")
                return
            case .fail(let code, let reason):
                self.checkClose(code: code, reason: reason)
                return
            }
        }
    }

    /// The assembler's UTF-8 check must agree with the standard library's validation.
    private static func checkUTF8Verdict(_ bytes: ByteBuffer) {
        let reference = String(validating: bytes.readableBytesView, as: UTF8.self) != nil
        precondition(bytes.isValidUTF8 == reference, "UTF-8 verdicts differ on \(Array(bytes.readableBytesView))")
    }

    private static func checkClose(code: CloseCode, reason: String) {
        let frame = WebSocketFrameEncoding.closeFrame(code: code.rawValue, reason: reason, allocator: ByteBufferAllocator())
        guard var payload = FuzzWebSocketFrames.decodeOne(frame)?.unmaskedData else {
            preconditionFailure("the close frame for \(code.rawValue) '\(reason)' does not decode")
        }
        precondition(payload.readableBytes <= 125 && payload.readInteger(as: UInt16.self) == code.rawValue)
        precondition(payload.isValidUTF8 && reason.utf8.starts(with: payload.readableBytesView), "close reason '\(reason)' was cut badly")
    }
}
