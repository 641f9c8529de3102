import ChorusCore
import NIOCore

/// The HTTP API's error body: `{"error":{"code":"…","message":"…"}}`, and `"reason"` where the
/// code alone is ambiguous (a token to renew, `token_expired`, or not, `token_invalid`).
enum APIErrorBody {
    static func write(_ error: ProtocolError, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"error":{"code":"#)
        buffer.writeJSONString(error.code.rawValue)
        buffer.writeStaticString(#","message":"#)
        buffer.writeJSONString(error.message)
        if let reason = error.reason {
            buffer.writeStaticString(#","reason":"#)
            buffer.writeJSONString(reason.rawValue)
        }
        buffer.writeStaticString("}}")
    }
}
