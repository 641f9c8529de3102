package import ChorusCore
package import NIOCore
package import NIOWebSocket

/// RFC 6455 on the receiving side, as a pure state machine: takes the frames a client sends
/// and says what they amount to — a whole message, a ping to answer, a close — or which close
/// code the connection must fail with. No I/O, so it is tested on its own.
package struct WebSocketMessageAssembler {
    package enum Action: Equatable {
        /// A complete text (UTF-8 checked) or binary message.
        case message(text: Bool, ByteBuffer)
        case ping(ByteBuffer)
        /// A pong: nothing to do but note the client is alive.
        case pong
        /// The client closes; answer with this code and then close.
        case close(CloseCode)
        /// A violation: close with this code at once.
        case fail(CloseCode, String)
    }

    let maxMessageSize: Int
    private var fragments: (text: Bool, data: ByteBuffer)?

    package init(maxMessageSize: Int) {
        self.maxMessageSize = maxMessageSize
    }

    package mutating func receive(_ frame: WebSocketFrame) -> Action? {
        guard frame.maskKey != nil else { return .fail(.protocolError, "client frames must be masked") }
        guard !frame.rsv1, !frame.rsv2, !frame.rsv3 else {
            return .fail(.protocolError, "reserved bits set without a negotiated extension")
        }
        switch frame.opcode {
        case .text, .binary:
            guard self.fragments == nil else { return .fail(.protocolError, "new message before the previous one finished") }
            let text = frame.opcode == .text
            if frame.fin { return Self.complete(text: text, frame.unmaskedData) }
            self.fragments = (text, frame.unmaskedData)
            return nil
        case .continuation:
            guard var fragments = self.fragments else {
                return .fail(.protocolError, "continuation frame without a message to continue")
            }
            var data = frame.unmaskedData
            guard fragments.data.readableBytes + data.readableBytes <= self.maxMessageSize else {
                self.fragments = nil
                return .fail(.messageTooLarge, "message larger than \(self.maxMessageSize) bytes")
            }
            fragments.data.writeBuffer(&data)
            guard frame.fin else {
                self.fragments = fragments
                return nil
            }
            self.fragments = nil
            return Self.complete(text: fragments.text, fragments.data)
        case .ping:
            guard frame.fin else { return .fail(.protocolError, "fragmented control frame") }
            return .ping(frame.unmaskedData)
        case .pong:
            guard frame.fin else { return .fail(.protocolError, "fragmented control frame") }
            return .pong
        case .connectionClose:
            guard frame.fin else { return .fail(.protocolError, "fragmented control frame") }
            return .close(Self.closeCode(answering: frame.unmaskedData))
        default:
            return .fail(.protocolError, "unknown opcode")
        }
    }

    private static func complete(text: Bool, _ data: ByteBuffer) -> Action {
        if text, !data.isValidUTF8 { return .fail(.invalidPayload, "text message is not valid UTF-8") }
        return .message(text: text, data)
    }

    /// The code to answer a client's close with: its own if valid, else a protocol error.
    static func closeCode(answering payload: ByteBuffer) -> CloseCode {
        var payload = payload
        switch payload.readableBytes {
        case 0: return .normal
        case 1: return .protocolError
        default:
            let code = payload.readInteger(as: UInt16.self) ?? 1000
            let valid = (3000...4999).contains(code) || [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011].contains(code)
            guard valid else { return .protocolError }
            guard payload.isValidUTF8 else { return .invalidPayload }
            return CloseCode(rawValue: code)
        }
    }
}
