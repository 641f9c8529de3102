import NIOCore
import Testing

@testable import ChorusCore

/// The pure halves of presence: a topic's member bookkeeping, the per-tick diff batching and
/// when a tick flushes, without I/O or clocks.
@Suite struct PresenceStateTests {
    static let room = try! Topic("room:a")
    static let other = try! Topic("room:b")

    static func member(_ client: String, _ user: String?, meta: String = "{}", at joinedAt: Int64 = 1) -> PresenceMember {
        PresenceMember(client: client, user: user, meta: ByteBuffer(string: meta), joinedAt: joinedAt)
    }

    // MARK: Roster

    @Test func membersAreConnectionsGroupedByUser() {
        var roster = PresenceRoster()
        #expect(roster.join(Self.member("c1", "alice", at: 10)) == .joined(Self.member("c1", "alice", at: 10)))
        _ = roster.join(Self.member("c2", "alice", at: 5))
        _ = roster.join(Self.member("c3", "bob", at: 20))
        _ = roster.join(Self.member("c4", nil, at: 30))
        _ = roster.join(Self.member("c5", nil, at: 30))
        #expect(roster.counts == PresenceCounts(clients: 5, users: 4))
        #expect(Set(roster.members(ofUser: "alice").map(\.client)) == ["c1", "c2"])
        #expect(roster.sortedMembers.map(\.client) == ["c2", "c1", "c3", "c4", "c5"])
        #expect(roster.leave(client: "c2")?.user == "alice")
        #expect(roster.counts == PresenceCounts(clients: 4, users: 4))
        #expect(roster.leave(client: "c1") != nil)
        #expect(roster.counts == PresenceCounts(clients: 3, users: 3))
        #expect(roster.members(ofUser: "alice").isEmpty)
        #expect(roster.leave(client: "c1") == nil)
    }

    @Test func joiningAgainUpdatesMetaAndKeepsJoinedAt() {
        var roster = PresenceRoster()
        _ = roster.join(Self.member("c1", "alice", meta: #"{"s":"online"}"#, at: 10))
        let change = roster.join(Self.member("c1", "alice", meta: #"{"s":"away"}"#, at: 99))
        #expect(change == .updated(old: Self.member("c1", "alice", meta: #"{"s":"online"}"#, at: 10), new: Self.member("c1", "alice", meta: #"{"s":"away"}"#, at: 10)))
        #expect(roster.counts == PresenceCounts(clients: 1, users: 1))
    }

    @Test func theMembersStayInOrderThroughJoinsUpdatesAndLeaves() {
        // Joined at few distinct times (ties by client id) and in no order, updated and left at
        // random: the kept order is always the one a sort would give.
        var generator = SystemRandomNumberGenerator()
        var roster = PresenceRoster()
        for step in 0..<2_000 {
            let client = "c\(Int.random(in: 0..<300, using: &generator))"
            if Bool.random(using: &generator) || roster.members[client] == nil {
                _ = roster.join(Self.member(client, "u\(step % 7)", meta: #"{"n":\#(step)}"#, at: Int64.random(in: 0..<20, using: &generator)))
            } else {
                _ = roster.leave(client: client)
            }
            if step % 100 == 0 || step == 1_999 {
                let sorted = roster.members.values.sorted { ($0.joinedAt, $0.client) < ($1.joinedAt, $1.client) }
                #expect(roster.sortedMembers == sorted)
            }
        }
        #expect(PresenceRoster(members: roster.sortedMembers.reversed()).sortedMembers == roster.sortedMembers)
    }

    @Test func aRosterBuiltAtOnceTakesALaterMemberOfAClientAsAnUpdate() {
        let roster = PresenceRoster(members: [
            Self.member("c2", "bob", at: 7), Self.member("c1", "alice", meta: #"{"s":1}"#, at: 5),
            Self.member("c1", "alice", meta: #"{"s":2}"#, at: 9),
        ])
        #expect(roster.sortedMembers == [Self.member("c1", "alice", meta: #"{"s":2}"#, at: 5), Self.member("c2", "bob", at: 7)])
        #expect(roster.counts == PresenceCounts(clients: 2, users: 2))
    }

    // MARK: Pages

    /// Walks the roster's pages of `limit`, calling `between` before each page after the first;
    /// returns the clients of every page in the order they came.
    static func walk(_ roster: inout PresenceRoster, limit: Int, between: (inout PresenceRoster, Int) -> Void) -> [String] {
        var seen: [String] = []
        var page = roster.page(PresencePage(limit: limit))
        var step = 0
        while true {
            #expect(page.members.count <= limit)
            seen += page.members.map(\.client)
            guard let next = page.next else { break }
            step += 1
            between(&roster, step)
            page = roster.page(PresencePage(limit: limit, after: next))
        }
        return seen
    }

    @Test func pagesWalkTheListInOrderAndEndWithoutACursor() {
        var roster = PresenceRoster()
        for index in 0..<25 { _ = roster.join(Self.member("c\(index)", "u\(index % 4)", at: Int64(index / 3))) }
        let whole = roster.sortedMembers.map(\.client)
        for limit in [1, 2, 5, 7, 25, 1_000] {
            #expect(Self.walk(&roster, limit: limit) { _, _ in } == whole, "limit \(limit)")
        }
        // A page that ends with the list has no `next`; the whole list is one page.
        #expect(roster.page(PresencePage(limit: 25)).next == nil)
        #expect(roster.page(PresencePage(limit: 24)).next == PresenceCursor(after: roster.sortedMembers[23]))
        #expect(roster.page(.whole).members == roster.sortedMembers && roster.page(.whole).next == nil)
        // After the last member, or past the end: nothing, and no cursor.
        #expect(roster.page(PresencePage(limit: 5, after: PresenceCursor(after: roster.sortedMembers[24]))).members.isEmpty)
        #expect(roster.page(PresencePage(after: PresenceCursor(joinedAt: 99, client: "z"))).members.isEmpty)
    }

    @Test func limitZeroGivesOnlyTheCounts() {
        var roster = PresenceRoster()
        for index in 0..<5 { _ = roster.join(Self.member("c\(index)", "u", at: Int64(index))) }
        let page = roster.page(PresencePage(limit: 0))
        #expect(page.members.isEmpty && page.next == nil)
        #expect(roster.counts == PresenceCounts(clients: 5, users: 1))
    }

    @Test func pagingThroughJoinsAndLeavesNeverRepeatsOrSkipsAMemberPresentThroughout() {
        // Members joined at few distinct times (ties by client), then between every two pages
        // some join (later, or at a time already listed) and some leave; the members present from
        // the first page to the last must each come exactly once, and nobody twice.
        var generator = SystemRandomNumberGenerator()
        for round in 0..<40 {
            var roster = PresenceRoster()
            var clock: Int64 = 0
            for index in 0..<200 {
                if index % 9 == 0 { clock += 1 }
                _ = roster.join(Self.member("c\(index)", "u\(index % 13)", at: clock))
            }
            let atStart = Set(roster.members.keys)
            var left: Set<String> = []
            var fresh = 0
            let limit = Int.random(in: 1...30, using: &generator)
            let seen = Self.walk(&roster, limit: limit) { roster, step in
                for _ in 0..<Int.random(in: 0...6, using: &generator) {
                    fresh += 1
                    // Joined now, or (a clock that went back, another node's) at a listed time.
                    let at = Bool.random(using: &generator) ? clock + Int64(step) : Int64.random(in: 0...clock, using: &generator)
                    _ = roster.join(Self.member("n\(round)-\(fresh)", nil, at: at))
                }
                for _ in 0..<Int.random(in: 0...6, using: &generator) {
                    guard let client = roster.members.keys.randomElement(using: &generator) else { break }
                    _ = roster.leave(client: client)
                    left.insert(client)
                }
            }
            #expect(Set(seen).count == seen.count, "round \(round): a member came twice")
            let throughout = atStart.subtracting(left)
            #expect(throughout.isSubset(of: Set(seen)), "round \(round), limit \(limit): skipped \(throughout.subtracting(seen).sorted())")
        }
    }

    @Test func theCursorIsReadBackAndBadLimitsAndCursorsAreRefused() throws {
        let cursor = PresenceCursor(joinedAt: 1_893_456_000_000, client: "c:1")
        #expect(PresenceCursor(cursor.text) == cursor)
        // A client id starting with an emoji modifier or a combining mark (the colon and it make one character).
        for client in ["\u{1F3FB}R\u{91}", "\u{301}x"] {
            let joined = PresenceCursor(joinedAt: 3_160_718_106, client: client)
            #expect(PresenceCursor(joined.text) == joined, "\(client.unicodeScalars.map { $0.value })")
        }
        for bad in ["", "12", ":c", "x:c", "-1:c", "12:", String(repeating: "9", count: 600) + ":c"] {
            #expect(PresenceCursor(bad) == nil, "\(bad)")
        }
        let decoder = ClientFrameDecoder()
        let pages: [(String, PresencePage)] = [
            (#"{"type":"presence","topic":"room:a"}"#, .whole),
            (#"{"type":"presence","topic":"room:a","limit":0}"#, PresencePage(limit: 0)),
            (#"{"type":"presence","topic":"room:a","limit":1000,"after":"5:c1"}"#, PresencePage(limit: 1_000, after: PresenceCursor(joinedAt: 5, client: "c1"))),
            (#"{"type":"presence","topic":"room:a","limit":null,"after":null}"#, .whole),
        ]
        for (text, page) in pages {
            guard case .presence(Self.room, let decoded) = try decoder.decode(ByteBuffer(string: text)).result.get() else {
                Issue.record("\(text)")
                continue
            }
            #expect(decoded == page, "\(text)")
        }
        guard case .presenceJoin(Self.room, nil, 100) = try decoder.decode(ByteBuffer(string: #"{"type":"presence_join","topic":"room:a","limit":100}"#)).result.get() else {
            Issue.record("presence_join with a limit")
            return
        }
        let limitMessage = "'limit' must be a whole number from 0 to 1000"
        let afterMessage = "'after' must be the 'next' of a presence_state"
        let refusals = [
            (#"{"type":"presence","topic":"room:a","limit":-1}"#, limitMessage),
            (#"{"type":"presence","topic":"room:a","limit":1001}"#, limitMessage),
            (#"{"type":"presence","topic":"room:a","limit":2.5}"#, limitMessage),
            (#"{"type":"presence","topic":"room:a","limit":"10"}"#, limitMessage),
            (#"{"type":"presence_join","topic":"room:a","limit":5000}"#, limitMessage),
            (#"{"type":"presence","topic":"room:a","after":"nope"}"#, afterMessage),
            (#"{"type":"presence","topic":"room:a","after":7}"#, afterMessage),
            (#"{"type":"presence_join","topic":"room:a","after":"5:c1"}"#, "'after' goes with 'presence', not 'presence_join': join with 'limit', then ask for the next pages"),
        ]
        for (text, message) in refusals {
            guard case .failure(let error) = decoder.decode(ByteBuffer(string: text)).result else {
                Issue.record("\(text) decoded")
                continue
            }
            #expect(error.code == .badRequest && error.message == message, "\(text): \(error.message)")
        }
    }

    // MARK: Batcher

    @Test func joinsAndLeavesOfOneTickAreOneDiffPerTopic() {
        var batcher = PresenceDiffBatcher()
        for index in 0..<1000 { batcher.joined(Self.member("c\(index)", "u\(index)"), topic: Self.room) }
        batcher.left(Self.member("old", "x"), topic: Self.room)
        batcher.joined(Self.member("o1", "y"), topic: Self.other)
        let diffs = batcher.flush(maxEntries: 10_000)
        #expect(diffs.count == 2)
        #expect(diffs[0].topic == Self.room && diffs[0].joins.count == 1000 && diffs[0].leaves.map(\.client) == ["old"])
        #expect(diffs[0].joins.map(\.client) == (0..<1000).map { "c\($0)" })
        #expect(diffs[1].topic == Self.other && diffs[1].joins.map(\.client) == ["o1"])
        #expect(batcher.isEmpty && batcher.flush(maxEntries: 1).isEmpty)
    }

    @Test func aJoinThenLeaveInOneTickCancelsOut() {
        var batcher = PresenceDiffBatcher()
        batcher.joined(Self.member("c1", "alice"), topic: Self.room)
        batcher.left(Self.member("c1", "alice"), topic: Self.room)
        #expect(batcher.isEmpty)
        #expect(batcher.flush(maxEntries: 10).isEmpty)
    }

    @Test func anUpdateIsALeaveOfTheOldAndAJoinOfTheNew() {
        var batcher = PresenceDiffBatcher()
        let online = Self.member("c1", "alice", meta: #"{"s":"online"}"#)
        let away = Self.member("c1", "alice", meta: #"{"s":"away"}"#)
        let busy = Self.member("c1", "alice", meta: #"{"s":"busy"}"#)
        batcher.updated(from: online, to: away, topic: Self.room)
        batcher.updated(from: away, to: busy, topic: Self.room)
        // Peers knew `online`: they drop it and see `busy`; `away` was never seen.
        #expect(batcher.flush(maxEntries: 10) == [.init(topic: Self.room, joins: [busy], leaves: [online])])
        // Updated then left within a tick: peers only hear the leave of what they knew.
        batcher.updated(from: busy, to: online, topic: Self.room)
        batcher.left(online, topic: Self.room)
        #expect(batcher.flush(maxEntries: 10) == [.init(topic: Self.room, joins: [], leaves: [busy])])
        // A leave then a rejoin within a tick is both, applied leaves first.
        batcher.left(online, topic: Self.room)
        batcher.joined(away, topic: Self.room)
        #expect(batcher.flush(maxEntries: 10) == [.init(topic: Self.room, joins: [away], leaves: [online])])
    }

    @Test func aLargeTickIsSplitLeavesFirst() {
        var batcher = PresenceDiffBatcher()
        for index in 0..<3 { batcher.left(Self.member("l\(index)", nil), topic: Self.room) }
        for index in 0..<5 { batcher.joined(Self.member("j\(index)", nil), topic: Self.room) }
        let diffs = batcher.flush(maxEntries: 4)
        #expect(diffs.map { $0.leaves.map(\.client) } == [["l0", "l1", "l2"], []])
        #expect(diffs.map { $0.joins.map(\.client) } == [["j0"], ["j1", "j2", "j3", "j4"]])
    }

    // MARK: Schedule

    @Test func aChangeAfterAQuietTickFlushesAtOnceAndABurstOncePerTick() {
        var schedule = PresenceFlushSchedule(interval: .milliseconds(100))
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        #expect(schedule.changed(now: start) == start)
        #expect(schedule.changed(now: start + .milliseconds(1)) == nil)
        schedule.flushed(now: start + .milliseconds(2))
        // A burst right after: the next flush waits for the tick.
        #expect(schedule.changed(now: start + .milliseconds(10)) == start + .milliseconds(102))
        #expect(schedule.changed(now: start + .milliseconds(50)) == nil)
        schedule.flushed(now: start + .milliseconds(102))
        // Quiet for longer than a tick: at once again.
        #expect(schedule.changed(now: start + .milliseconds(500)) == start + .milliseconds(500))
    }

    // MARK: Frames

    @Test func theDecoderReadsThePresenceFrames() throws {
        let decoder = ClientFrameDecoder()
        let frames: [(String, (ClientFrame) -> Bool)] = [
            (#"{"type":"presence_join","topic":"room:a","meta":{"s":"online"}}"#, {
                if case .presenceJoin(Self.room, let meta?, nil) = $0 { String(buffer: meta.bytes) == #"{"s":"online"}"# } else { false }
            }),
            (#"{"type":"presence_join","topic":"room:a"}"#, { if case .presenceJoin(Self.room, nil, nil) = $0 { true } else { false } }),
            (#"{"type":"presence_join","topic":"room:a","meta":null}"#, { if case .presenceJoin(Self.room, nil, nil) = $0 { true } else { false } }),
            (#"{"type":"presence_leave","topic":"room:a"}"#, { if case .presenceLeave(Self.room) = $0 { true } else { false } }),
            (#"{"type":"presence_stats","topic":"room:a"}"#, { if case .presenceStats(Self.room) = $0 { true } else { false } }),
        ]
        for (text, check) in frames {
            #expect(check(try decoder.decode(ByteBuffer(string: text)).result.get()), "\(text)")
        }
        let refusals = [
            (#"{"type":"presence_join","topic":"room:a","meta":"away"}"#, "field 'meta' must be an object"),
            (#"{"type":"presence_leave"}"#, "missing field 'topic'"),
            (#"{"type":"presence_stats","topic":7}"#, "field 'topic' must be a string"),
        ]
        for (text, message) in refusals {
            guard case .failure(let error) = decoder.decode(ByteBuffer(string: text)).result else {
                Issue.record("\(text) decoded")
                continue
            }
            #expect(error.code == .badRequest && error.message == message, "\(text): \(error.message)")
        }
    }

    @Test func presenceFramesAreWrittenAsDocumented() {
        func text(_ frame: ServerFrame, id: Int? = nil) -> String {
            var buffer = ByteBuffer()
            let id = id.map { try! JSONObject(parsing: ByteBuffer(string: #"{"id":\#($0)}"#))["id"]! }
            frame.write(into: &buffer, id: id, version: .v1_1)
            return String(buffer: buffer)
        }
        let ada = Self.member("c1", "ada", meta: #"{"s":"online"}"#, at: 5)
        let anonymous = Self.member("c2", nil, at: 6)
        #expect(text(.presenceState(topic: "room:a", members: [ada, anonymous], counts: PresenceCounts(clients: 2, users: 2)), id: 1)
            == #"{"type":"presence_state","id":1,"topic":"room:a","members":[{"user":"ada","client":"c1","meta":{"s":"online"},"joined_at":5},{"user":null,"client":"c2","meta":{},"joined_at":6}],"count":2,"users":2}"#)
        #expect(text(.presenceStats(topic: "room:a", counts: PresenceCounts(clients: 3, users: 2)), id: 2)
            == #"{"type":"presence_stats","id":2,"topic":"room:a","clients":3,"users":2}"#)
        #expect(text(.presenceDiff(topic: "room:a", joins: [ada], leaves: []))
            == #"{"type":"presence_diff","topic":"room:a","joins":[{"user":"ada","client":"c1","meta":{"s":"online"},"joined_at":5}],"leaves":[]}"#)
    }

    @Test func aPresenceFramesSizeHintCoversWhatItWrites() {
        // The hint sizes the frame's buffer, so a large state is written without regrowing it.
        let members = (0..<2_000).map { index in
            Self.member("client-\(index)", index % 3 == 0 ? nil : "user-\(index)", meta: #"{"name":"Member \#(index)","status":"online"}"#, at: 1_765_000_000_000 + Int64(index))
        }
        let frames: [ServerFrame] = [
            .presenceState(topic: "room:a-long-topic-name", members: members, counts: PresenceCounts(clients: 2_000, users: 1_334)),
            .presenceDiff(topic: "room:a", joins: Array(members[..<1_000]), leaves: Array(members[1_000...])),
            .presenceState(topic: "room:a", members: [], counts: PresenceCounts(clients: 0, users: 0)),
            .presenceState(
                topic: "room:a", members: Array(members[..<100]), counts: PresenceCounts(clients: 2_000, users: 1_334),
                next: PresenceCursor(after: members[99])),
        ]
        for frame in frames {
            var buffer = ByteBuffer()
            frame.write(into: &buffer, id: try! JSONObject(parsing: ByteBuffer(string: #"{"id":123456}"#))["id"]!, version: .v1_1)
            #expect(buffer.readableBytes <= frame.sizeHint)
            #expect(frame.sizeHint < buffer.readableBytes * 2 + 256, "a hint far above the size wastes memory")
        }
    }
}
