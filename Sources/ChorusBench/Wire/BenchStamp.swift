import Foundation
public import NIOCore

/// What every published or echoed payload carries so that the receiver can tell who sent it,
/// in which order, and when: `{"bench_p":P,"bench_s":S,"bench_t":T,"pad":"…"}`.
/// The receiver finds it by its marker wherever it sits, so the same scan reads a Chorus
/// `message` frame (the payload is its `data`, byte for byte), a raw Nchan body, an SSE `data:`
/// line or an echoed frame.
public struct BenchStamp: Equatable, Sendable {
    /// The publisher (or connection) that sent it.
    public var source: Int
    /// Its sequence number from that source, per topic, starting at 1.
    public var sequence: Int
    /// When it was sent, in nanoseconds of the monotonic clock (the same clock in every process
    /// of the machine, so worker processes can compare it with their own readings).
    public var sentNanoseconds: UInt64

    public init(source: Int, sequence: Int, sentNanoseconds: UInt64) {
        self.source = source
        self.sequence = sequence
        self.sentNanoseconds = sentNanoseconds
    }

    private static let marker: [UInt8] = Array(#"{"bench_p":"#.utf8)
    private static let sequenceKey: [UInt8] = Array(#","bench_s":"#.utf8)
    private static let timeKey: [UInt8] = Array(#","bench_t":"#.utf8)
    private static let padKey: [UInt8] = Array(#","pad":""#.utf8)

    /// Writes the stamp as a JSON object of `size` bytes at least (padding fills the rest).
    public func write(into buffer: inout ByteBuffer, size: Int) {
        let start = buffer.writerIndex
        buffer.writeBytes(Self.marker)
        buffer.writeDecimal(UInt64(self.source))
        buffer.writeBytes(Self.sequenceKey)
        buffer.writeDecimal(UInt64(self.sequence))
        buffer.writeBytes(Self.timeKey)
        buffer.writeDecimal(self.sentNanoseconds)
        buffer.writeBytes(Self.padKey)
        let padding = max(0, size - (buffer.writerIndex - start) - 2)
        buffer.writeRepeatingByte(UInt8(ascii: "x"), count: padding)
        buffer.writeStaticString("\"}")
    }

    private static let base64Data: [UInt8] = Array(#""data":""#.utf8)

    /// The stamp of a binary message delivered as JSON: in the bytes its base64 `data` string
    /// decodes to (`chorus bench fanout --payload binary` or `base64` to JSON subscribers).
    public static func findInBase64(in buffer: ByteBuffer, at index: Int, length: Int) -> BenchStamp? {
        guard let view = buffer.viewBytes(at: index, length: length) else { return nil }
        let bytes = Array(view)
        guard let start = bytes.firstRange(of: Self.base64Data)?.upperBound,
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\"")),
            let decoded = Data(base64Encoded: Data(bytes[start..<end]))
        else { return nil }
        let raw = ByteBuffer(bytes: decoded)
        return Self.find(in: raw, at: raw.readerIndex, length: raw.readableBytes)
    }

    /// The first stamp in `length` bytes of `buffer` from `index`, or nil if there is none.
    public static func find(in buffer: ByteBuffer, at index: Int, length: Int) -> BenchStamp? {
        guard let view = buffer.viewBytes(at: index, length: length) else { return nil }
        return view.withUnsafeBytes { bytes in
            var cursor = 0
            return Self.next(in: bytes, from: &cursor)
        }
    }

    /// Every stamp in `length` bytes of `buffer` from `index`, in order (the members of a presence diff).
    public static func all(in buffer: ByteBuffer, at index: Int, length: Int) -> [BenchStamp] {
        guard let view = buffer.viewBytes(at: index, length: length) else { return [] }
        return view.withUnsafeBytes { bytes in
            var stamps: [BenchStamp] = []
            var cursor = 0
            while let stamp = Self.next(in: bytes, from: &cursor) { stamps.append(stamp) }
            return stamps
        }
    }

    /// The next well-formed stamp at or after `cursor`, which it leaves past that stamp.
    private static func next(in bytes: UnsafeRawBufferPointer, from cursor: inout Int) -> BenchStamp? {
        while cursor < bytes.count, let offset = UnsafeRawBufferPointer(rebasing: bytes[cursor...]).firstRange(of: Self.marker) {
            cursor += offset + Self.marker.count
            guard let source = bytes.decimal(at: &cursor), bytes.matches(Self.sequenceKey, at: &cursor),
                let sequence = bytes.decimal(at: &cursor), bytes.matches(Self.timeKey, at: &cursor),
                let sent = bytes.decimal(at: &cursor)
            else { continue }
            return BenchStamp(source: Int(source), sequence: Int(sequence), sentNanoseconds: sent)
        }
        cursor = bytes.count
        return nil
    }
}

extension ByteBuffer {
    /// Writes `value` in decimal without building a String.
    mutating func writeDecimal(_ value: UInt64) {
        var digits: (UInt64, Int) = (value, 1)
        while digits.0 >= 10 {
            digits.0 /= 10
            digits.1 += 1
        }
        let count = digits.1
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
            var remaining = value
            for position in stride(from: count - 1, through: 0, by: -1) {
                pointer[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            }
            return count
        }
    }
}
