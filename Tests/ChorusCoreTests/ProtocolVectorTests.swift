import Foundation
import NIOCore
import Testing

@testable import ChorusCore

/// The v1.1 frames of Tests/vectors/protocol-v1.1.json, shared with chorus.js's tests (and the
/// Swift client's): the hub's encoder must write each one, field for field.
@Suite struct ProtocolVectorTests {
    struct Vectors: Decodable {
        var `protocol`: String
        var subprotocol: String
        var reasons: [String]
        var frames: [Vector]
    }

    struct Vector: Decodable {
        var name: String
    }

    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("vectors/protocol-v1.1.json")

    /// What the hub's encoder is given for each vector.
    static let frames: [String: (ServerFrame, id: String?)] = [
        "connected_anonymous": (.connected(client: "c-1", user: nil, expiresAt: nil), nil),
        "connected_with_token": (.connected(client: "c-2", user: "alice", expiresAt: 1_893_456_000_000), nil),
        "error_token_expired": (.error(ProtocolError(.unauthorized, "token rejected: expired", reason: .tokenExpired)), nil),
        "error_token_invalid": (.error(ProtocolError(.unauthorized, "invalid token: its signature does not verify", reason: .tokenInvalid)), nil),
        "error_token_required": (
            .error(ProtocolError(.unauthorized, "this hub needs a token: connect with one, or send an 'auth' frame", reason: .tokenRequired)), nil
        ),
        "error_without_reason": (.error(ProtocolError(.forbidden, "may not publish to 'chat:a'")), "7"),
        "disconnect_token_expired": (.disconnect(code: .tokenInvalid, reason: .tokenExpired, message: "token expired", reconnect: true), nil),
        "disconnect_token_expired_at_connect": (
            .disconnect(code: .tokenInvalid, reason: .tokenExpired, message: "token rejected: expired", reconnect: false), nil
        ),
        "disconnect_token_invalid": (
            .disconnect(code: .tokenInvalid, reason: .tokenInvalid, message: "invalid token: its signature does not verify", reconnect: false), nil
        ),
        "disconnect_kicked": (.disconnect(code: .normal, reason: .kicked, message: "account suspended", reconnect: false), nil),
        "disconnect_shutdown": (.disconnect(code: .goingAway, reason: .shutdown, message: "hub shutting down", reconnect: true), nil),
        "disconnect_idle_timeout": (.disconnect(code: .goingAway, reason: .idleTimeout, message: "idle timeout", reconnect: true), nil),
        "disconnect_rate_limited": (
            .disconnect(code: .rateLimited, reason: .rateLimited, message: "publishing far over the rate limit", reconnect: false), nil
        ),
        "disconnect_too_many_connections": (
            .disconnect(code: .rateLimited, reason: .tooManyConnections, message: "user 'alice' already has 10 connections", reconnect: true), nil
        ),
        "disconnect_protocol_error": (.disconnect(code: .protocolError, reason: .protocolError, message: "client frames must be masked", reconnect: false), nil),
        "disconnect_message_too_large": (
            .disconnect(code: .messageTooLarge, reason: .messageTooLarge, message: "frame larger than 1048576 bytes", reconnect: false), nil
        ),
        "presence_state": (
            .presenceState(
                topic: "room:lobby",
                members: [
                    PresenceMember(client: "c-1", user: "alice", meta: ByteBuffer(string: #"{"status":"online"}"#), joinedAt: 1_893_456_000_000),
                    PresenceMember(client: "c-2", user: nil, meta: ByteBuffer(string: "{}"), joinedAt: 1_893_456_000_500),
                ],
                counts: PresenceCounts(clients: 2, users: 2)
            ), "3"
        ),
        "presence_state_page": (
            .presenceState(
                topic: "room:lobby",
                members: [PresenceMember(client: "c-1", user: "alice", meta: ByteBuffer(string: #"{"status":"online"}"#), joinedAt: 1_893_456_000_000)],
                counts: PresenceCounts(clients: 2, users: 2), next: PresenceCursor(joinedAt: 1_893_456_000_000, client: "c-1")
            ), "5"
        ),
        "presence_state_counts_only": (.presenceState(topic: "room:lobby", members: [], counts: PresenceCounts(clients: 2, users: 2)), "6"),
        "presence_diff": (
            .presenceDiff(
                topic: "room:lobby",
                joins: [PresenceMember(client: "c-1", user: "alice", meta: ByteBuffer(string: #"{"status":"away"}"#), joinedAt: 1_893_456_000_000)],
                leaves: [PresenceMember(client: "c-1", user: "alice", meta: ByteBuffer(string: #"{"status":"online"}"#), joinedAt: 1_893_456_000_000)]
            ), nil
        ),
        "presence_stats": (.presenceStats(topic: "room:lobby", counts: PresenceCounts(clients: 3, users: 2)), "4"),
        "signal": (.signal(from: MessageSender(user: "alice", client: "c-1"), data: ByteBuffer(string: #"{"type":"offer","sdp":"v=0"}"#)), nil),
        "sync_snapshot": (
            .syncSnapshot(collection: "tasks:board", SyncSnapshot(version: 7, records: [
                SyncRecord(id: "t1", version: 6, data: ByteBuffer(string: #"{"title":"Ship it","done":false}"#), updatedAt: 1_893_456_000_000, updatedBy: "alice")
            ])), "5"
        ),
        "sync_changes": (
            .syncChanges(collection: "tasks:board", version: 9, changes: [
                SyncChange(collection: "tasks:board", op: .update, recordID: "t1", version: 8, data: ByteBuffer(string: #"{"title":"Ship it","done":true}"#), mutationID: "m-8", by: "bob", at: 1_893_456_000_100),
                SyncChange(collection: "tasks:board", op: .delete, recordID: "t1", version: 9, data: nil, mutationID: nil, by: nil, at: 1_893_456_000_200),
            ]), "6"
        ),
        "sync_ack": (.syncAck(SyncAck(recordID: "t1", version: 8, mutationID: "m-8", record: nil)), "7"),
        "sync_conflict": (
            .syncConflict(message: "record 't1' is at version 8", current: SyncRecord(
                id: "t1", version: 8, data: ByteBuffer(string: #"{"title":"Ship it","done":true}"#), updatedAt: 1_893_456_000_100, updatedBy: "bob")), "8"
        ),
        // A publish the namespace's WebAssembly transform dropped: acknowledged, delivered to no one.
        "ack_dropped": (.ack(messageID: "m-9", offset: nil, epoch: nil, dropped: true), "9"),
    ]

    static func load() throws -> (vectors: Vectors, raw: [String: Any]) {
        let data = try Data(contentsOf: Self.url)
        return (try JSONDecoder().decode(Vectors.self, from: data), try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]))
    }

    @Test func theHubWritesEveryVector() throws {
        let (vectors, raw) = try Self.load()
        #expect(vectors.protocol == ProtocolVersion.v1_1.description)
        #expect(vectors.subprotocol == ProtocolVersion.v1_1.subprotocol)
        #expect(Set(vectors.frames.map(\.name)) == Set(Self.frames.keys), "every vector is checked, and every check has a vector")
        let frames = try #require(raw["frames"] as? [[String: Any]])
        for entry in frames {
            let name = try #require(entry["name"] as? String)
            let expected = try #require(entry["frame"] as? NSDictionary)
            let (frame, idText) = try #require(Self.frames[name])
            let id = try idText.map { try JSONObject(parsing: ByteBuffer(string: "{\"id\":\($0)}"))["id"]! }
            var buffer = ByteBuffer()
            frame.write(into: &buffer, id: id, version: .v1_1)
            let written = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? NSDictionary
            #expect(written == expected, "\(name): wrote \(String(buffer: buffer))")
        }
    }

    @Test func everyReasonOfTheVectorsIsAReasonCode() throws {
        let known: [ReasonCode] = [
            .tokenExpired, .tokenInvalid, .tokenRequired, .shutdown, .idleTimeout, .rateLimited, .tooManyConnections, .kicked, .protocolError, .messageTooLarge,
        ]
        #expect(try Self.load().vectors.reasons == known.map(\.rawValue))
    }

    /// v1 connections see exactly what they saw before v1.1 existed.
    @Test func v1SpellingIsUnchanged() throws {
        func text(_ frame: ServerFrame) -> String {
            var buffer = ByteBuffer()
            frame.write(into: &buffer, version: .v1)
            return String(buffer: buffer)
        }
        #expect(text(.disconnect(code: .tokenInvalid, reason: .tokenExpired, message: "token expired", reconnect: true))
            == #"{"type":"disconnect","code":4001,"reason":"token expired","reconnect":true}"#)
        #expect(text(.error(ProtocolError(.unauthorized, "token rejected: expired", reason: .tokenExpired)))
            == #"{"type":"error","code":"unauthorized","message":"token rejected: expired"}"#)
    }
}
