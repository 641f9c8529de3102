import ChorusCore
import NIOCore
import NIOWebSocket
import Testing

@testable import ChorusServer

@Suite struct WebSocketMessageAssemblerTests {
    let key = WebSocketMaskingKey([1, 2, 3, 4])!

    func frame(_ opcode: WebSocketOpcode, _ text: String = "", fin: Bool = true, masked: Bool = true, rsv1: Bool = false) -> WebSocketFrame {
        var data = ByteBuffer(string: text)
        if masked { data.webSocketMask(self.key) }
        return WebSocketFrame(fin: fin, rsv1: rsv1, opcode: opcode, maskKey: masked ? self.key : nil, data: data)
    }

    func frame(_ opcode: WebSocketOpcode, bytes: [UInt8], fin: Bool = true) -> WebSocketFrame {
        var data = ByteBuffer(bytes: bytes)
        data.webSocketMask(self.key)
        return WebSocketFrame(fin: fin, opcode: opcode, maskKey: self.key, data: data)
    }

    @Test func wholeAndFragmentedMessages() {
        var assembler = WebSocketMessageAssembler(maxMessageSize: 100)
        #expect(assembler.receive(self.frame(.text, "hello")) == .message(text: true, ByteBuffer(string: "hello")))
        #expect(assembler.receive(self.frame(.text, "he", fin: false)) == nil)
        // Control frames may come between fragments.
        #expect(assembler.receive(self.frame(.ping, "p")) == .ping(ByteBuffer(string: "p")))
        #expect(assembler.receive(self.frame(.continuation, "ll", fin: false)) == nil)
        #expect(assembler.receive(self.frame(.continuation, "o")) == .message(text: true, ByteBuffer(string: "hello")))
        #expect(assembler.receive(self.frame(.binary, bytes: [0xFF, 0x00])) == .message(text: false, ByteBuffer(bytes: [0xFF, 0x00])))
        #expect(assembler.receive(self.frame(.pong)) == .pong)
    }

    @Test func violationsFailWithTheirCloseCode() {
        func failure(_ frames: [WebSocketFrame], limit: Int = 100) -> CloseCode? {
            var assembler = WebSocketMessageAssembler(maxMessageSize: limit)
            for frame in frames {
                if case .fail(let code, _)? = assembler.receive(frame) { return code }
            }
            return nil
        }
        #expect(failure([self.frame(.text, "x", masked: false)]) == .protocolError)
        #expect(failure([self.frame(.text, "x", rsv1: true)]) == .protocolError)
        #expect(failure([self.frame(.continuation, "x")]) == .protocolError)
        #expect(failure([self.frame(.text, "a", fin: false), self.frame(.text, "b")]) == .protocolError)
        #expect(failure([self.frame(.ping, "x", fin: false)]) == .protocolError)
        #expect(failure([self.frame(.connectionClose, fin: false)]) == .protocolError)
        #expect(failure([self.frame(.text, String(repeating: "a", count: 60), fin: false), self.frame(.continuation, String(repeating: "a", count: 60))]) == .messageTooLarge)
        #expect(failure([self.frame(.text, bytes: [0xC0, 0xAF])]) == .invalidPayload)  // overlong
        #expect(failure([self.frame(.text, bytes: [0xCE], fin: false), self.frame(.continuation, bytes: [0xBA])]) == nil)  // split character is fine
        #expect(failure([WebSocketFrame(fin: true, opcode: WebSocketOpcode(encodedWebSocketOpcode: 0x3)!, maskKey: self.key, data: ByteBuffer())]) == .protocolError)
    }

    @Test func closeCodesAreAnsweredOrRejected() {
        func answer(_ payload: [UInt8]) -> CloseCode {
            WebSocketMessageAssembler.closeCode(answering: ByteBuffer(bytes: payload))
        }
        #expect(answer([]) == .normal)
        #expect(answer([0x03]) == .protocolError)
        #expect(answer([0x03, 0xE8]) == .normal)  // 1000
        #expect(answer([0x0F, 0xA0]) == CloseCode(rawValue: 4000))
        #expect(answer([0x03, 0xED]) == .protocolError)  // 1005 may not be sent
        #expect(answer([0x13, 0x88]) == .protocolError)  // 5000
        #expect(answer([0x03, 0xE8, 0xFF]) == .invalidPayload)  // reason not UTF-8
    }

    /// The non-allocating validator agrees with the standard library on random bytes.
    @Test func utf8ValidatorAgreesWithTheStandardLibrary() {
        var generator = SystemRandomNumberGenerator()
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0xA0, 0x9F, 0x90, 0x8F]
        for round in 0..<20_000 {
            let length = Int.random(in: 0...24, using: &generator)
            let bytes: [UInt8] = (0..<length).map { _ in
                round % 2 == 0 ? interesting.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator)
            }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(ByteBuffer(bytes: bytes).isValidUTF8 == expected, "\(bytes)")
        }
        #expect(ByteBuffer(string: String(repeating: "ascii text é 😀 ", count: 50)).isValidUTF8)
    }
}
