import ChorusCore
import NIOCore
import Testing

@testable import ChorusPostgres

/// The payload a sync change is announced with: the frame while it fits a notification.
@Suite struct SyncNoticeTests {
    static func change(_ data: String) -> SyncChange {
        SyncChange(collection: "tasks:a.b", op: .update, recordID: "r1", version: 42, data: ByteBuffer(string: data), mutationID: "m", by: "alice", at: 7)
    }

    @Test func aSmallChangeCarriesItsFrame() throws {
        let change = Self.change(#"{"title":"é ✓"}"#)
        let notice = try #require(SyncNotice(payload: SyncNotice.payload(of: change)))
        var frame = ByteBuffer()
        change.writeFrame(into: &frame)
        #expect(notice == SyncNotice(collection: "tasks:a.b", version: 42, frame: frame))
    }

    @Test func aLargeChangeIsAnnouncedWithoutIt() throws {
        let payload = SyncNotice.payload(of: Self.change(#"{"s":""# + String(repeating: "x", count: 8_000) + #""}"#))
        #expect(payload.utf8.count < 100)
        #expect(SyncNotice(payload: payload) == SyncNotice(collection: "tasks:a.b", version: 42, frame: nil))
    }

    @Test func otherTextIsNoNotice() {
        for payload in ["", "42", "x tasks\n", "42 tasks", "-1 tasks\n{}"] {
            #expect(SyncNotice(payload: payload) == nil, "\(payload)")
        }
    }
}
