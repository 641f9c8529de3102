import ChorusCore
import Foundation
import NIOCore

/// The HTTP API's JSON bodies, written from the `[String: Any]` trees its routes build.
///
/// Foundation's `JSONSerialization` with sorted keys sorted them with a locale-aware compare
/// (ICU collation) and bridged every value to an `NSObject`: a fifth of the hub's CPU when
/// backends publish events over HTTP. This writes the usual values directly, keys in byte
/// order, and leaves only what it does not know (an `NSNumber` read from a configuration
/// file, say) to Foundation.
enum JSONResponseBody {
    /// `value` as JSON.
    static func encode(_ value: Any) -> ByteBuffer {
        var buffer = ByteBuffer()
        self.write(value, into: &buffer)
        return buffer
    }

    /// Appends `value` as JSON: strings, booleans, integers, floating-point numbers (a
    /// non-finite one as `null`), `NSNull`, optionals, arrays and string-keyed dictionaries.
    static func write(_ value: Any, into buffer: inout ByteBuffer) {
        // Exact types first: on Linux a cast such as `as? Int` also bridges through `NSNumber`,
        // and a test such as `is NSNull` bridges a dictionary to an `NSDictionary` to ask.
        let kind = type(of: value)
        if kind == String.self {
            buffer.writeJSONString(value as! String)
        } else if kind == Bool.self {
            buffer.writeStaticString((value as! Bool) ? "true" : "false")
        } else if kind == Int.self {
            buffer.writeString(String(value as! Int))
        } else if kind == Int64.self {
            buffer.writeString(String(value as! Int64))
        } else if kind == UInt64.self {
            buffer.writeString(String(value as! UInt64))
        } else if kind == Int32.self {
            buffer.writeString(String(value as! Int32))
        } else if kind == UInt.self {
            buffer.writeString(String(value as! UInt))
        } else if kind == Double.self {
            self.write(number: value as! Double, into: &buffer)
        } else if kind == Float.self {
            self.write(number: Double(value as! Float), into: &buffer)
        } else if kind == NSNull.self {
            buffer.writeStaticString("null")
        } else if let object = value as? [String: Any] {
            buffer.writeStaticString("{")
            for (index, key) in object.keys.sorted().enumerated() {
                if index > 0 { buffer.writeStaticString(",") }
                buffer.writeJSONString(key)
                buffer.writeStaticString(":")
                self.write(object[key]!, into: &buffer)
            }
            buffer.writeStaticString("}")
        } else if let array = value as? [Any] {
            buffer.writeStaticString("[")
            for (index, element) in array.enumerated() {
                if index > 0 { buffer.writeStaticString(",") }
                self.write(element, into: &buffer)
            }
            buffer.writeStaticString("]")
        } else if case let mirror = Mirror(reflecting: value), mirror.displayStyle == .optional {
            if let wrapped = mirror.children.first?.value {
                self.write(wrapped, into: &buffer)
            } else {
                buffer.writeStaticString("null")
            }
        } else if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]) {
            buffer.writeBytes(data)
        } else {
            buffer.writeStaticString("null")
        }
    }

    /// A whole number as an integer (as `JSONSerialization` wrote `3.0`), others in Swift's
    /// shortest exact form, which JSON reads (`0.1`, `1e-05`).
    private static func write(number: Double, into buffer: inout ByteBuffer) {
        guard number.isFinite else {
            buffer.writeStaticString("null")
            return
        }
        if number == number.rounded(), abs(number) < 1e15 {
            buffer.writeString(String(Int64(number)))
        } else {
            buffer.writeString(String(number))
        }
    }
}
