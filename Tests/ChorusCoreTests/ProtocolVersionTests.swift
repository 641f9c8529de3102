import Testing

@testable import ChorusCore

@Suite struct ProtocolVersionTests {
    @Test func negotiationPicksTheNewestVersionOffered() {
        #expect(ProtocolVersion.negotiate(offered: ["chorus.v1.1"]) == .v1_1)
        #expect(ProtocolVersion.negotiate(offered: ["graphql-ws", "chorus.v1.1"]) == .v1_1)
        #expect(ProtocolVersion.negotiate(offered: []) == .v1)
        // Unknown subprotocols (a later version, another protocol) are answered without one: v1.
        #expect(ProtocolVersion.negotiate(offered: ["chorus.v9", "mqtt"]) == .v1)
        #expect(ProtocolVersion.negotiate(offered: ["CHORUS.V1.1"]) == .v1, "subprotocol tokens are case-sensitive (RFC 6455 §4.1)")
    }

    @Test func namesOnTheWire() {
        #expect(ProtocolVersion.v1_1.subprotocol == "chorus.v1.1")
        #expect(ProtocolVersion.v1.subprotocol == nil)
        #expect(ProtocolVersion.v1_1.description == "1.1")
        #expect(ProtocolVersion.v1.description == "1")
        #expect(MemoryLayout<ProtocolVersion>.size == 2, "every connection keeps one")
    }
}

@Suite struct ErrorCodeTests {
    /// New codes are additive: one this hub does not know still has a status and round-trips.
    @Test func anUnknownCodeIsAnInternalErrorOverHTTP() {
        // (This example was `conflict` until sync collections made it a code of the hub.)
        let gone = ErrorCode(rawValue: "gone")
        #expect(gone.httpStatus == 500)
        #expect(gone.rawValue == "gone")
        #expect(ErrorCode(rawValue: "not_found") == .notFound)
        #expect(!ErrorCode.allCases.contains(gone))
    }
}
