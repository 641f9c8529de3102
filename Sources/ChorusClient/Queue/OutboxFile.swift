public import Foundation

/// Keeps an ``OfflineQueue``'s entries in a file, so publishes queued before an application
/// restarts are sent after it.
///
/// The file holds one JSON object per line, oldest first, and is replaced atomically on every
/// change, so a crash leaves the old or the new contents, never half of one.
public struct OutboxFile: Sendable {
    /// Where the entries live.
    public let url: URL

    /// The outbox at `url` (created on the first save).
    public init(url: URL) {
        self.url = url
    }

    /// The saved entries; none when the file does not exist.
    public func load() throws -> [QueuedPublish] {
        guard FileManager.default.fileExists(atPath: self.url.path) else { return [] }
        let text = try String(contentsOf: self.url, encoding: .utf8)
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { line in
            try decoder.decode(QueuedPublish.self, from: Data(line.utf8))
        }
    }

    /// Replaces the file's contents with `entries`.
    public func save(_ entries: [QueuedPublish]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var contents = Data()
        for entry in entries {
            contents.append(try encoder.encode(entry))
            contents.append(0x0A)
        }
        try contents.write(to: self.url, options: .atomic)
    }
}
