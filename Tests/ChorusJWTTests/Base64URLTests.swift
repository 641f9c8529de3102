import ChorusJWT
import Foundation
import Testing

@Suite struct Base64URLTests {
    /// Foundation's base64, made URL-safe and unpadded: an encoder independent of ours.
    static func reference(_ bytes: [UInt8]) -> String {
        TestKeys.base64URL(Data(bytes))
    }

    @Test func agreesWithFoundationBothWaysForEveryLengthAndByte() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let text = Self.reference(bytes)
            #expect(Base64URL.encode(bytes) == text)
            #expect(Base64URL.decode(text) == bytes)
        }
        let everyByte = (0...255).map { UInt8($0) }
        #expect(Base64URL.decode(Self.reference(everyByte)) == everyByte)
    }

    @Test(arguments: [
        "QQ==",  // padding
        "QQ=",
        "Q",  // a lone character carries no whole byte
        "QUJDR",
        "QR",  // "A" is "QQ": the last character has bits set past the byte
        "QUJ",  // "AB" is "QUI"; "QUJ" sets a bit past the last byte
        "a+b/",  // the standard alphabet, not the URL one
        "ab c",
        "ab\u{e9}",
    ])
    func refusesWhatIsNotCanonical(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }

    @Test func decodesTheCanonicalFormsOfThoseBytes() {
        #expect(Base64URL.decode("QQ") == Array("A".utf8))
        #expect(Base64URL.decode("QUI") == Array("AB".utf8))
        #expect(Base64URL.decode("") == [])
        #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
    }
}
