public import NIOCore

/// A parsed JSON document as a tree, for code that must look inside a value (schema validation).
///
/// The hub forwards payloads as `RawJSON` bytes; build a tree only where the structure matters.
/// `==` is JSON Schema's equality: numbers compare by value (`1 == 1.0`), objects ignore member
/// order, and `true` is not `1`.
public enum JSONValue: Sendable, Equatable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, with its exact text.
    case number(JSONNumber)
    /// A string, escapes resolved.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object(Object)

    /// Parses `buffer` (its readable bytes), which must hold exactly one JSON value (surrounding
    /// whitespace allowed), validated as strictly as `RawJSON`. Objects and arrays may nest
    /// `maxDepth` levels (a container at the top is level 1); parsing recurses once per level.
    public init(parsing buffer: ByteBuffer, maxDepth: Int = 64) throws(JSONError) {
        self = try buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(JSONError) in try JSONScanner.parseTree(bytes, maxDepth: maxDepth) }
        }.get()
    }

    /// The tree of a value that is already validated (its nesting was bounded then).
    public init(_ raw: RawJSON) {
        // `raw` was validated with its document, nesting included, so parsing it again cannot fail.
        self = try! JSONValue(parsing: raw.bytes, maxDepth: .max)
    }

    /// The members of a JSON object.
    ///
    /// A key written twice keeps the value written last (as `JSONObject` does) at the position
    /// where it was first written.
    public struct Object: Sendable, Equatable {
        /// The keys in the order they were first written, each once.
        public private(set) var keys: [String] = []
        private var values: [String: JSONValue] = [:]

        /// An empty object.
        public init() {}

        /// The value of `key`; setting a new key appends it, setting an existing one replaces
        /// its value in place.
        public subscript(key: String) -> JSONValue? {
            get {
                self.values[key]
            }
            set {
                guard let newValue else {
                    if self.values.removeValue(forKey: key) != nil {
                        self.keys.removeAll { $0 == key }
                    }
                    return
                }
                if self.values.updateValue(newValue, forKey: key) == nil {
                    self.keys.append(key)
                }
            }
        }

        /// The number of members, each key once.
        public var count: Int {
            self.keys.count
        }

        /// The members in key order.
        public var members: [(key: String, value: JSONValue)] {
            self.keys.map { ($0, self.values[$0]!) }
        }

        /// Whether both have the same keys with equal values, in any order.
        public static func == (lhs: Object, rhs: Object) -> Bool {
            lhs.values == rhs.values
        }
    }
}
