import ChorusCore

/// The base64url encoding of JWS (RFC 7515 §2): the URL-safe alphabet, no `=` padding.
///
/// Decoding accepts only the canonical text: anything outside the alphabet, padding, a length
/// that leaves a lone character, or bits set past the last byte is refused. Every byte string
/// then has exactly one encoding, so a token cannot be altered without changing what it says.
public enum Base64URL {
    /// Each byte's 6-bit value, or 0xFF for bytes outside the alphabet.
    private static let values: [UInt8] = {
        var values = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in Base64.Alphabet.url.characters.enumerated() {
            values[Int(character)] = UInt8(value)
        }
        return values
    }()

    /// `bytes` in base64url, without padding.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Base64.encode(bytes, .url)
    }

    /// The bytes `text` encodes, or nil unless it is canonical unpadded base64url.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        // 4 characters carry 3 bytes; a remainder of 1 character carries less than a byte.
        guard text.count % 4 != 1 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in text {
            let value = Self.values[Int(character)]
            guard value != 0xFF else { return nil }
            accumulator = accumulator &<< 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // The 2 or 4 bits left over are padding, and an encoder writes them as zeros.
        guard accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return bytes
    }

    /// The bytes of base64url `text` (unpadded); nil when it is not valid base64url.
    public static func decode(_ text: String) -> [UInt8]? {
        self.decode(text.utf8)
    }
}
