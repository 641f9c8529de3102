/// Base64 (RFC 4648) in the two forms the hub writes: the standard alphabet with `=` padding
/// (the WebSocket handshake's accept value), and the URL-safe alphabet without padding (JWS).
package enum Base64 {
    /// The two alphabets: standard with `=` padding, and URL-safe without padding.
    package enum Alphabet: Sendable {
        /// `+` and `/`, padded with `=` to a multiple of 4 characters (RFC 4648 §4).
        case standard
        /// `-` and `_`, unpadded, as JWS writes it (RFC 4648 §5, RFC 7515 §2).
        case url

        /// The 64 characters, in the order of the values they stand for.
        package var characters: [UInt8] {
            switch self {
            case .standard: Base64.standardCharacters
            case .url: Base64.urlCharacters
            }
        }
    }

    private static let standardCharacters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let urlCharacters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// `bytes` in Base64 of `alphabet`.
    package static func encode(_ bytes: some Sequence<UInt8>, _ alphabet: Alphabet) -> String {
        let characters = alphabet.characters
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 4 / 3 + 3)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in bytes {
            accumulator = accumulator &<< 8 | UInt32(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                text.append(characters[Int(accumulator >> UInt32(bits) & 0x3F)])
            }
        }
        if bits > 0 {
            text.append(characters[Int(accumulator << UInt32(6 - bits) & 0x3F)])
        }
        if alphabet == .standard {
            while text.count % 4 != 0 { text.append(UInt8(ascii: "=")) }
        }
        return String(decoding: text, as: UTF8.self)
    }
}
