import ChorusCore
import ChorusRedis
import NIOCore

/// One page of a pattern replay from the namespace logs (``RedisHistoryKeys/log(_:)``): the
/// logs of the patterns' namespaces (every namespace for a pattern spanning them) are read
/// after a sequence and merged in sequence order, the entries of matching topics kept, until
/// the page is full or the logs reach `through`; then their messages are read from the topics'
/// streams.
struct RedisPatternReplay {
    let store: RedisHistoryStore
    let client: RedisClient
    let keys: RedisHistoryKeys
    let patterns: [TopicPattern]
    let through: UInt64
    let newerThan: Int64?
    let limit: Int

    private struct Entry {
        var sequence: UInt64
        var topic: String
        var offset: UInt64
        var timestamp: Int64
    }

    /// Matching messages after store sequence `sequence`, at most `limit`, oldest first.
    func page(after sequence: UInt64) -> EventLoopFuture<[StoredMessage]> {
        guard self.limit > 0, sequence < self.through else { return self.client.eventLoop.makeSucceededFuture([]) }
        return self.namespaces().flatMap { namespaces in
            self.entries(in: namespaces, after: sequence, found: [])
        }.flatMap { entries in
            self.store.messages(of: entries.map { ($0.topic, $0.offset) })
        }
    }

    private func namespaces() -> EventLoopFuture<[String]> {
        let named = self.patterns.compactMap { $0.namespace.map(String.init) }
        guard named.count < self.patterns.count else { return self.client.eventLoop.makeSucceededFuture(Array(Set(named))) }
        return self.client.send(RESPCommand("SMEMBERS", [.string(self.keys.namespaces)])).map { ($0.array ?? []).compactMap(\.string) }
    }

    /// Scans the logs after `sequence`, `limit` entries per log at a time, until `found` holds
    /// `limit` matching entries or every log reached `through`.
    private func entries(in namespaces: [String], after sequence: UInt64, found: [Entry]) -> EventLoopFuture<[Entry]> {
        guard !namespaces.isEmpty else { return self.client.eventLoop.makeSucceededFuture(found) }
        let commands = namespaces.map { namespace in
            RESPCommand("XRANGE", [.string(self.keys.log(namespace)), .string("\(sequence + 1)-0"), .string("\(self.through)-1"), "COUNT", .integer(self.limit)])
        }
        return self.client.send(commands).flatMap { replies in
            var scanned: [Entry] = []
            // Entries up to the smallest last sequence of a log that returned a full count are
            // all known; beyond it, that log may hold more.
            var bound = self.through
            for reply in replies {
                let entries = (reply.array ?? []).compactMap(Self.entry)
                scanned += entries
                if entries.count == self.limit, let last = entries.last { bound = min(bound, last.sequence) }
            }
            scanned.sort { $0.sequence < $1.sequence }
            var found = found
            for entry in scanned where entry.sequence <= bound && self.matches(entry) {
                found.append(entry)
                if found.count == self.limit { return self.client.eventLoop.makeSucceededFuture(found) }
            }
            guard bound < self.through, !scanned.isEmpty else { return self.client.eventLoop.makeSucceededFuture(found) }
            return self.entries(in: namespaces, after: bound, found: found)
        }
    }

    private func matches(_ entry: Entry) -> Bool {
        if let newerThan = self.newerThan, entry.timestamp <= newerThan { return false }
        guard let topic = try? Topic(entry.topic) else { return false }
        return self.patterns.contains { $0.matches(topic) }
    }

    /// A log entry: `[<sequence>-1, [t, <topic>, o, <offset>, m, <ms>]]`.
    private static func entry(_ value: RESPValue) -> Entry? {
        guard let parts = value.array, parts.count == 2, let id = parts[0].string, let sequence = id.split(separator: "-").first.flatMap({ UInt64($0) }),
            let fields = parts[1].array, fields.count == 6, let topic = fields[1].string, let offset = fields[3].int, let timestamp = fields[5].int
        else { return nil }
        return Entry(sequence: sequence, topic: topic, offset: UInt64(offset), timestamp: Int64(timestamp))
    }
}
