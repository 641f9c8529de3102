import ChorusCore
import NIOCore

/// The HTTP API's error body: `{"error":{"code":"…","message":"…"}}`.
enum APIErrorBody {
    static func write(_ error: ProtocolError, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"error":{"code":"#)
        buffer.writeJSONString(error.code.rawValue)
        buffer.writeStaticString(#","message":"#)
        buffer.writeJSONString(error.message)
        buffer.writeStaticString("}}")
    }
}
