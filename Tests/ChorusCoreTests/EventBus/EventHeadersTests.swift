import ChorusCore
import Foundation
import Testing

@Suite struct EventHeadersTests {
    @Test func headersRoundTripThroughTheColumnInNameOrder() {
        let headers = ["x-user": "ada", "a\"quote": "line\nbreak\\ and / slash", "ünïcode": "😀", "empty": ""]
        let text = EventHeaders.encode(headers)
        #expect(text == #"{"a\"quote":"line\nbreak\\ and / slash","empty":"","x-user":"ada","ünïcode":"😀"}"#)
        #expect(EventHeaders.decode(text) == headers)
    }

    @Test func noHeadersAreNoColumnValue() {
        #expect(EventHeaders.encode([:]) == nil)
        #expect(EventHeaders.decode(nil) == [:])
    }

    @Test func whatFoundationsEncoderWroteStillReads() throws {
        // Rows written before the hub's own encoder (JSONEncoder escapes '/').
        let headers = ["path": "/a/b", "x-chorus-user": "bob"]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let old = String(decoding: try encoder.encode(headers), as: UTF8.self)
        #expect(old.contains(#"\/"#))
        #expect(EventHeaders.decode(old) == headers)
    }

    @Test func aValueEditedIntoSomethingElseReadsAsNone() {
        for text in ["", "not json", "[]", #"{"a":1}"#, #"{"a":"b","c":null}"#, #"{"a":"b""#] {
            #expect(EventHeaders.decode(text) == [:], "\(text)")
        }
    }
}
