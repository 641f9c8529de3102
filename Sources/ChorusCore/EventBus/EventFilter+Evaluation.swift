import NIOCore

extension EventFilter.Expression {
    /// Whether the data satisfies this expression.
    func evaluate(on data: FilterInput) -> Bool {
        switch self {
        case .all(let terms):
            terms.allSatisfy { $0.evaluate(on: data) }
        case .any(let terms):
            terms.contains { $0.evaluate(on: data) }
        case .not(let term):
            !term.evaluate(on: data)
        case .compare(let left, let comparison, let right):
            comparison.holds(left.resolve(in: data), right.resolve(in: data))
        case .contains(let element, let collection):
            Self.contains(element.resolve(in: data), in: collection.resolve(in: data))
        case .exists(let path):
            EventFilter.Operand.path(path).resolve(in: data) != nil
        }
    }

    private static func contains(_ element: RawJSON?, in collection: RawJSON?) -> Bool {
        guard let element, let elements = collection?.elements else {
            return false
        }
        return elements.contains { EventFilter.ComparisonOperator.equal($0, element) }
    }
}

/// The data being filtered, its top-level object parsed once for every path that reads it.
struct FilterInput {
    let data: RawJSON
    let object: JSONObject?

    init(_ data: RawJSON) {
        self.data = data
        // The data was validated whole, nesting included, so parsing it again cannot fail.
        self.object = data.kind == .object ? try? data.object(maxDepth: .max) : nil
    }
}

extension EventFilter.Operand {
    /// The value this operand stands for; nil when a path leads nowhere.
    func resolve(in input: FilterInput) -> RawJSON? {
        switch self {
        case .literal(let value):
            return value
        case .path(let segments):
            let first: RawJSON?
            if let object = input.object {
                first = object[segments[0]]
            } else {
                first = Self.child(segments[0], of: input.data)
            }
            return segments.dropFirst().reduce(first) { value, segment in value.flatMap { Self.child(segment, of: $0) } }
        }
    }

    /// An object's member or an array's element (the segment is its index); nil for anything else.
    private static func child(_ segment: String, of value: RawJSON) -> RawJSON? {
        switch value.kind {
        case .object:
            return (try? value.object(maxDepth: .max))?[segment]
        case .array:
            guard let index = Int(segment), let elements = value.elements, elements.indices.contains(index) else {
                return nil
            }
            return elements[index]
        case .string, .number, .bool, .null:
            return nil
        }
    }
}

extension EventFilter.ComparisonOperator {
    /// Whether `left <operator> right` holds, nil standing for a path that leads nowhere.
    func holds(_ left: RawJSON?, _ right: RawJSON?) -> Bool {
        switch self {
        case .equal:
            Self.equal(left, right)
        case .notEqual:
            !Self.equal(left, right)
        case .less:
            Self.less(left, right)
        case .lessOrEqual:
            Self.less(left, right) || Self.equal(left, right)
        case .greater:
            Self.less(right, left)
        case .greaterOrEqual:
            Self.less(right, left) || Self.equal(left, right)
        }
    }

    /// RFC 9535 equality: same kind and same value, containers compared deeply; two missing
    /// values are equal, a missing value equals nothing else.
    static func equal(_ left: RawJSON?, _ right: RawJSON?) -> Bool {
        guard let left, let right else {
            return left == nil && right == nil
        }
        guard left.kind == right.kind else {
            return false
        }
        switch left.kind {
        case .number:
            if let leftInteger = left.int64, let rightInteger = right.int64 {
                return leftInteger == rightInteger
            }
            return left.double == right.double
        case .string:
            if let leftBytes = left.unescapedContents, let rightBytes = right.unescapedContents {
                return leftBytes.elementsEqual(rightBytes)
            }
            // Unicode scalars, not `String`'s canonical equivalence: what the bytes say is compared.
            return left.string!.unicodeScalars.elementsEqual(right.string!.unicodeScalars)
        case .bool:
            return left.bool == right.bool
        case .null:
            return true
        case .array:
            let leftElements = left.elements!
            let rightElements = right.elements!
            return leftElements.count == rightElements.count && zip(leftElements, rightElements).allSatisfy { equal($0, $1) }
        case .object:
            // Validated whole, so parsing cannot fail; duplicate keys: the last one counts.
            let leftObject = try! left.object(maxDepth: .max)
            let rightObject = try! right.object(maxDepth: .max)
            let keys = Set(leftObject.keys)
            return keys == Set(rightObject.keys) && keys.allSatisfy { equal(leftObject[$0], rightObject[$0]) }
        }
    }

    /// RFC 9535 ordering: numbers numerically, strings by Unicode scalar values; anything else,
    /// a missing value included, is not ordered.
    private static func less(_ left: RawJSON?, _ right: RawJSON?) -> Bool {
        guard let left, let right, left.kind == right.kind else {
            return false
        }
        switch left.kind {
        case .number:
            if let leftInteger = left.int64, let rightInteger = right.int64 {
                return leftInteger < rightInteger
            }
            return left.double! < right.double!
        case .string:
            if let leftBytes = left.unescapedContents, let rightBytes = right.unescapedContents {
                return leftBytes.lexicographicallyPrecedes(rightBytes)
            }
            return left.string!.unicodeScalars.lexicographicallyPrecedes(right.string!.unicodeScalars)
        case .bool, .null, .array, .object:
            return false
        }
    }
}

extension RawJSON {
    /// A string's UTF-8 between its quotes when it has no escapes, so it is compared without
    /// decoding: UTF-8 byte order is Unicode scalar order.
    fileprivate var unescapedContents: ByteBufferView.SubSequence? {
        let contents = self.bytes.readableBytesView.dropFirst().dropLast()
        return contents.contains(UInt8(ascii: "\\")) ? nil : contents
    }
}
