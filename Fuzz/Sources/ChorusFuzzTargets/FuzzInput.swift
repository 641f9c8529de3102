/// A fuzzer's bytes read as a few choices followed by free-form pieces, so one input can pick
/// (say) a key and a token shape and still leave the fuzzer the content to mutate.
///
/// Reading never fails: past the end, choices are 0 and pieces are empty, so every input runs.
struct FuzzInput {
    /// Splits free-form pieces; a byte that is rare in text, so seeds stay readable.
    static let separator: UInt8 = 0x00

    private var bytes: ArraySlice<UInt8>

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = ArraySlice(bytes)
    }

    var isEmpty: Bool {
        self.bytes.isEmpty
    }

    /// The next byte as a choice among `count` options.
    mutating func choice(of count: Int) -> Int {
        guard let byte = self.bytes.popFirst() else { return 0 }
        return Int(byte) % count
    }

    /// The bytes up to the next separator (which is consumed), or all that is left.
    mutating func piece() -> ArraySlice<UInt8> {
        let end = self.bytes.firstIndex(of: Self.separator) ?? self.bytes.endIndex
        let piece = self.bytes[..<end]
        self.bytes = self.bytes[end...].dropFirst()
        return piece
    }

    /// Every remaining piece.
    mutating func pieces() -> [ArraySlice<UInt8>] {
        var pieces: [ArraySlice<UInt8>] = []
        while !self.bytes.isEmpty {
            pieces.append(self.piece())
        }
        return pieces
    }

    /// All remaining bytes, separators included.
    mutating func rest() -> ArraySlice<UInt8> {
        defer { self.bytes = [] }
        return self.bytes
    }
}

extension String {
    /// Fuzzed bytes as text the way the hub's inputs become text: invalid UTF-8 is repaired.
    init(fuzzed bytes: ArraySlice<UInt8>) {
        self.init(decoding: bytes, as: UTF8.self)
    }
}
