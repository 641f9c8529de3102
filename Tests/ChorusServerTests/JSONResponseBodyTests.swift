import Foundation
import NIOCore
import Testing

@testable import ChorusServer

/// The HTTP API's JSON writer: the values routes put in their bodies, keys sorted, and what it
/// does not know handed to Foundation.
@Suite struct JSONResponseBodyTests {
    static func text(_ value: Any) -> String {
        String(buffer: JSONResponseBody.encode(value))
    }

    @Test func writesTheRoutesValuesWithSortedKeys() {
        let missing: String? = nil
        let present: String? = "s"
        let tree: [String: Any] = [
            "b": 1,
            "a": ["x", true, NSNull(), 2.5, 3.0, Int64(-7), UInt64.max, Int32(4), Float(0.5)] as [Any],
            "c": ["k": "v\"/\n"] as [String: String],
            "d": missing as Any,
            "e": present as Any,
            "f": Double.nan,
            "g": [[String: Any]](),
            "h": 1e-5,
        ]
        #expect(Self.text(tree) == #"{"a":["x",true,null,2.5,3,-7,18446744073709551615,4,0.5],"b":1,"c":{"k":"v\"/\n"},"d":null,"e":"s","f":null,"g":[],"h":1e-05}"#)
        #expect(Self.text(["only": false]) == #"{"only":false}"#)
    }

    @Test func foundationValuesReadFromJSONComeOutAsTheyWentIn() throws {
        let source = #"{"n":1.5,"t":true,"i":42,"s":"x","l":[1,"y",null],"o":{"z":0}}"#
        let parsed = try JSONSerialization.jsonObject(with: Data(source.utf8))
        let written = JSONResponseBody.encode(parsed)
        let again = try JSONSerialization.jsonObject(with: Data(written.readableBytesView)) as? NSDictionary
        #expect(again == (parsed as? NSDictionary))
    }
}
