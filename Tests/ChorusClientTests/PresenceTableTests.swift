import ChorusCore
import NIOCore
import Testing

@testable import ChorusClient

/// The member list a client keeps from `presence_state` and `presence_diff` (docs/protocol.md
/// "Presence"), without I/O.
@Suite struct PresenceTableTests {
    static func member(_ client: String, user: String? = nil, status: String = "online", at joinedAt: Int64 = 1) -> PresenceMember {
        PresenceMember(client: client, user: user, meta: ByteBuffer(string: #"{"status":"\#(status)"}"#), joinedAt: joinedAt)
    }

    @Test func aStateReplacesTheListAndReportsTheDifference() {
        var table = PresenceTable()
        #expect(table.applyState([Self.member("c1"), Self.member("c2")]) == [.join(Self.member("c1")), .join(Self.member("c2"))])
        let changes = table.applyState([Self.member("c2", status: "away"), Self.member("c3")])
        #expect(changes == [.leave(Self.member("c1")), .update(Self.member("c2", status: "away"), previous: Self.member("c2")), .join(Self.member("c3"))])
        #expect(table.members.map(\.client) == ["c2", "c3"])
    }

    @Test func aDiffAppliesLeavesFirstAndAnUpdateKeepsItsPlace() {
        var table = PresenceTable()
        _ = table.applyState([Self.member("c1"), Self.member("c2")])
        let changes = table.applyDiff(joins: [Self.member("c1", status: "away"), Self.member("c3")], leaves: [Self.member("c1"), Self.member("c2")])
        #expect(changes == [.leave(Self.member("c2")), .update(Self.member("c1", status: "away"), previous: Self.member("c1")), .join(Self.member("c3"))])
        #expect(table.members.map(\.client) == ["c1", "c3"])
        // Repeating what the list already shows changes nothing: applying converges.
        #expect(table.applyDiff(joins: [Self.member("c3")], leaves: [Self.member("gone")]) == [])
    }

    @Test func diffsThatOvertakeTheStateApplyAgainAfterIt() {
        var table = PresenceTable()
        table.awaitingState = 1
        // In a cluster the diff of c2's leave can come before the state that still lists c2.
        _ = table.applyDiff(joins: [Self.member("c3")], leaves: [Self.member("c2")])
        _ = table.applyState([Self.member("c1"), Self.member("c2")])
        #expect(table.members.map(\.client) == ["c1", "c3"])
        #expect(table.awaitingState == 0)
        // Once no state is awaited, diffs are not kept for replay.
        _ = table.applyDiff(joins: [Self.member("c4")], leaves: [])
        _ = table.applyState([Self.member("c1")])
        #expect(table.members.map(\.client) == ["c1"])
    }

    @Test func membersGroupByUserWithTheNewestConnectionsMeta() {
        var table = PresenceTable()
        _ = table.applyState([
            Self.member("c1", user: "ada", at: 1), Self.member("c2", at: 2), Self.member("c3", user: "ada", status: "away", at: 3),
        ])
        let users = table.users
        #expect(users.map(\.key) == ["ada", "c2"])
        #expect(users[0].connections.map(\.client) == ["c1", "c3"])
        #expect(users[0].meta == ByteBuffer(string: #"{"status":"away"}"#))
        #expect(users[1].user == nil)
    }

    @Test func clearingReportsEveryoneLeaving() {
        var table = PresenceTable()
        _ = table.applyState([Self.member("c1"), Self.member("c2")])
        #expect(table.clear() == [.leave(Self.member("c1")), .leave(Self.member("c2"))])
        #expect(table.members.isEmpty)
    }

    @Test func pagesAddToTheListAndOnlyTheLastOneRemovesWhoIsInNoPage() {
        var table = PresenceTable()
        _ = table.applyState([Self.member("old", at: 1), Self.member("c1", at: 2)])
        // A reconnection's list in pages: nobody leaves before the last page.
        table.awaitingState = 1
        let first = table.applyPage([Self.member("c1", at: 2)], counts: PresenceCounts(clients: 4, users: 4), more: true, first: true)
        #expect(first.isEmpty && !table.isComplete && table.counts == PresenceCounts(clients: 4, users: 4))
        #expect(table.awaitingState == 0)
        // Between pages: c9 joins at a time before the pages read (no later page lists it), and
        // c3, on the next page, leaves before that page comes (the diff overtook it).
        table.awaitingState = 1
        _ = table.applyDiff(joins: [Self.member("c9", at: 0)], leaves: [])
        _ = table.applyDiff(joins: [], leaves: [Self.member("c3", at: 3)])
        let last = table.applyPage([Self.member("c3", at: 3), Self.member("me", at: 5)], counts: PresenceCounts(clients: 4, users: 4), more: false, first: false)
        #expect(last == [.join(Self.member("c3", at: 3)), .join(Self.member("me", at: 5)), .leave(Self.member("old", at: 1)), .leave(Self.member("c3", at: 3))])
        #expect(table.isComplete && table.members.map(\.client) == ["c9", "c1", "me"], "oldest first once complete")
        #expect(table.counts == PresenceCounts(clients: 3, users: 3))
        // A complete state ends a list that was coming in pages.
        _ = table.applyPage([Self.member("c1", at: 2)], counts: PresenceCounts(clients: 9, users: 9), more: true, first: true)
        _ = table.applyState([Self.member("c1", at: 2)])
        #expect(table.isComplete && table.members.map(\.client) == ["c1"])
    }
}
