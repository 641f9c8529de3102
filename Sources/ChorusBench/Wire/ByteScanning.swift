import NIOCore

extension ByteBuffer {
    /// The absolute index of the first occurrence of `needle` in the readable bytes.
    func firstIndex(of needle: [UInt8]) -> Int? {
        self.withUnsafeReadableBytes { $0.firstRange(of: needle) }.map { self.readerIndex + $0 }
    }

    /// How many times `needle` occurs in the readable bytes, not overlapping.
    func occurrences(of needle: [UInt8]) -> Int {
        self.withUnsafeReadableBytes { bytes in
            var (count, cursor) = (0, 0)
            while cursor < bytes.count, let offset = UnsafeRawBufferPointer(rebasing: bytes[cursor...]).firstRange(of: needle) {
                count += 1
                cursor += offset + needle.count
            }
            return count
        }
    }
}

extension UnsafeRawBufferPointer {
    func firstRange(of needle: [UInt8]) -> Int? {
        guard let first = needle.first, self.count >= needle.count else { return nil }
        var index = 0
        while index <= self.count - needle.count {
            if self[index] == first {
                var matched = 1
                while matched < needle.count && self[index + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return index }
            }
            index += 1
        }
        return nil
    }

    func matches(_ expected: [UInt8], at cursor: inout Int) -> Bool {
        guard cursor + expected.count <= self.count else { return false }
        for (offset, byte) in expected.enumerated() where self[cursor + offset] != byte { return false }
        cursor += expected.count
        return true
    }

    func decimal(at cursor: inout Int) -> UInt64? {
        var value: UInt64 = 0
        let start = cursor
        while cursor < self.count, self[cursor] >= UInt8(ascii: "0"), self[cursor] <= UInt8(ascii: "9"), cursor - start < 20 {
            value = value &* 10 &+ UInt64(self[cursor] - UInt8(ascii: "0"))
            cursor += 1
        }
        return cursor > start ? value : nil
    }
}
