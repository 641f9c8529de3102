import ChorusCore
import Foundation
import NIOCore

/// Checks Chorus's JSON reading against independent implementations: Foundation's decoder for
/// strings, the standard library's integer parser for numbers.
enum JSONOracle {
    /// Decodes every member of `object`, and of the objects nested in it up to `depth` levels,
    /// through ``RawJSON``'s accessors, and compares each with the reference.
    static func checkMembers(of object: JSONObject, depth: Int) {
        for key in Set(object.keys) {
            guard let value = object[key] else {
                fatalError("key '\(key)' is listed but has no value")
            }
            self.check(value)
            if depth > 1, value.kind == .object {
                guard let nested = try? value.object(maxDepth: depth) else {
                    fatalError("a validated member object failed to parse again: \(String(buffer: value.bytes))")
                }
                self.checkMembers(of: nested, depth: depth - 1)
            }
        }
    }

    static func check(_ value: RawJSON) {
        let text = String(buffer: value.bytes)
        switch value.kind {
        case .string:
            let reference = try? JSONDecoder().decode(String.self, from: Data(text.utf8))
            precondition(value.string == reference, "string \(text) decodes to \(String(describing: value.string)), Foundation says \(String(describing: reference))")
        case .number:
            precondition(value.int64 == Int64(text), "number \(text) reads as \(String(describing: value.int64))")
            precondition(value.double != nil, "number \(text) has no Double value")
        case .bool:
            precondition(value.bool == (text == "true"), "bool \(text) reads as \(String(describing: value.bool))")
        case .null:
            precondition(text == "null")
        case .object, .array:
            let opening = value.bytes.getInteger(at: value.bytes.readerIndex, as: UInt8.self)
            precondition(opening == (value.kind == .object ? UInt8(ascii: "{") : UInt8(ascii: "[")), "container \(text) has the wrong kind")
        }
    }

    /// Parses what the hub wrote; a reply that is not one valid JSON object is a bug.
    static func parseReply(_ reply: ByteBuffer) -> JSONObject {
        do {
            // Room for the frame around data that was itself up to the decoder's maximum depth.
            return try JSONObject(parsing: reply, maxDepth: ClientFrameDecoder().maxDepth + 2)
        } catch {
            fatalError("the hub wrote invalid JSON (\(error)): \(String(buffer: reply))")
        }
    }
}
