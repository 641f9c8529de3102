import ChorusCluster
import ChorusCore
import ChorusRedis
import NIOCore
import Testing

@Suite struct RedisPresenceWireFormatTests {
    static let ann = PresenceMember(client: "k2x-1", user: "ann:1", meta: ByteBuffer(string: #"{"s":"a:b"}"#), joinedAt: 1_700_000_000_123)
    static let anonymous = PresenceMember(client: "k2x-2", user: nil, meta: ByteBuffer(string: "{}"), joinedAt: 5)

    @Test func aMemberValueRoundTripsWithItsNode() throws {
        for member in [Self.ann, Self.anonymous] {
            let record = try #require(RedisPresenceWireFormat.record(RedisPresenceWireFormat.value(of: member, node: "node:a")))
            #expect(record == RedisPresenceRecord(node: "node:a", member: member))
        }
        // An empty user is a user, not an anonymous member.
        let empty = PresenceMember(client: "c", user: "", meta: ByteBuffer(string: "{}"), joinedAt: 1)
        #expect(RedisPresenceWireFormat.record(RedisPresenceWireFormat.value(of: empty, node: "n"))?.member.user == "")
    }

    @Test func anUpdateIsTheValueUpToItsMetaWithTheNewMetaField() throws {
        // What the member script does in Lua: keep the first five fields, append the new meta.
        let old = RedisPresenceWireFormat.value(of: Self.ann, node: "a")
        var head = old
        head.moveWriterIndex(to: old.writerIndex - Self.ann.meta.readableBytes - "\(Self.ann.meta.readableBytes):".utf8.count)
        var new = head
        new.writeImmutableBuffer(RedisPresenceWireFormat.metaField(ByteBuffer(string: #"{"s":"away"}"#)))
        let record = try #require(RedisPresenceWireFormat.record(new))
        #expect(record.member.joinedAt == Self.ann.joinedAt && record.member.user == "ann:1" && String(buffer: record.member.meta) == #"{"s":"away"}"#)
    }

    @Test func announcementsAreReadWithTheirTopic() throws {
        let value = RedisPresenceWireFormat.value(of: Self.ann, node: "a")
        let other = RedisPresenceWireFormat.value(of: Self.anonymous, node: "b")
        func payload(_ kind: String, _ values: ByteBuffer...) -> ByteBuffer {
            var buffer = ByteBuffer(string: "\(kind.utf8.count):\(kind)11:room:call.1")
            for value in values { buffer.writeImmutableBuffer(value) }
            return buffer
        }
        let joined = try #require(RedisPresenceWireFormat.announcement(payload("j", value)))
        #expect(joined.topic.name == "room:call.1" && joined.change == .joined(RedisPresenceRecord(node: "a", member: Self.ann)))
        let left = try #require(RedisPresenceWireFormat.announcement(payload("l", other)))
        #expect(left.change == .left(RedisPresenceRecord(node: "b", member: Self.anonymous)))
        let updated = try #require(RedisPresenceWireFormat.announcement(payload("u", value, other)))
        #expect(updated.change == .updated(old: RedisPresenceRecord(node: "a", member: Self.ann), new: RedisPresenceRecord(node: "b", member: Self.anonymous)))
        // Malformed: an unknown kind, an update with one member, trailing bytes, a cut value, a bad topic.
        #expect(RedisPresenceWireFormat.announcement(payload("x", value)) == nil)
        #expect(RedisPresenceWireFormat.announcement(payload("u", value)) == nil)
        #expect(RedisPresenceWireFormat.announcement(payload("j", value, ByteBuffer(string: "1"))) == nil)
        #expect(RedisPresenceWireFormat.announcement(payload("j", value.getSlice(at: 0, length: value.readableBytes - 1)!)) == nil)
        var badTopic = ByteBuffer(string: "1:j6:bad..t")
        badTopic.writeImmutableBuffer(value)
        #expect(RedisPresenceWireFormat.announcement(badTopic) == nil)
    }

    @Test func aScriptReplyOfMemberValuesIsReadWhole() throws {
        let values: RESPValue = .array([.bulkString(RedisPresenceWireFormat.value(of: Self.ann, node: "a")), .bulkString(RedisPresenceWireFormat.value(of: Self.anonymous, node: "b"))])
        #expect(RedisPresenceWireFormat.records(values)?.map(\.node) == ["a", "b"])
        #expect(RedisPresenceWireFormat.records(.array([])) == [])
        #expect(RedisPresenceWireFormat.records(.array([.bulkString(ByteBuffer(string: "3:abc"))])) == nil)
        #expect(RedisPresenceWireFormat.records(.null) == nil)
    }

    @Test func aRelayedSignalCarriesItsTargetAndFrame() throws {
        let frame = ByteBuffer(bytes: [0x81, 0x02, 0x7B, 0x7D])
        let signal = try #require(RedisPresenceWireFormat.signal(RedisPresenceWireFormat.signal(frame, to: "k2x-9")))
        #expect(signal.client == "k2x-9" && signal.frame == frame)
        #expect(RedisPresenceWireFormat.signal(ByteBuffer(string: "5:k2x-9")) == nil, "no frame")
        #expect(RedisPresenceWireFormat.signal(ByteBuffer(string: "9:k2x")) == nil, "cut short")
    }

    @Test func aNodeEntryIsTheTopicFieldThenTheClient() throws {
        #expect(String(buffer: RedisPresenceWireFormat.nodeEntry(topic: try Topic("room:a"), client: "k-1")) == "6:room:ak-1")
    }
}
