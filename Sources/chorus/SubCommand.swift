import ChorusClient
import ChorusCore
import Foundation
import Synchronization

/// `chorus sub TOPIC…`: prints every message of the topics (or patterns) as one JSON line,
/// reconnecting and recovering like any ChorusClient, until interrupted or `--count` messages.
enum SubCommand {
    static let usage = """
        Usage: chorus sub TOPIC... [--since OFFSET:EPOCH | --since MILLISECONDS] [--count N]
                                   [--url URL]... [--token JWT]

        Prints each message frame the hub sends as one JSON line on standard output.
          --since OFFSET:EPOCH  start after that position of a topic with history (replays what follows)
          --since MILLISECONDS  replay the retained messages newer than that time (ms since 1970)
          --count N             exit after N messages
        \(ClientOptions.usage)
        """

    static func run(_ arguments: [String]) async throws {
        var options = ClientOptions()
        var topics: [String] = []
        var since: RecoveryPosition?
        var count: Int?
        var scanner = ArgumentScanner(arguments, usage: Self.usage)
        while let argument = scanner.next() {
            if try options.take(argument, from: &scanner) { continue }
            switch argument {
            case "--since": since = try Self.since(try scanner.value(of: argument))
            case "--count": count = try scanner.number(of: argument)
            case "--help", "-h":
                print(Self.usage)
                return
            default:
                guard !argument.hasPrefix("-") else { throw CommandError("unknown option '\(argument)'\n\n\(Self.usage)") }
                topics.append(argument)
            }
        }
        guard !topics.isEmpty else { throw CommandError("name at least one topic\n\n\(Self.usage)") }
        let client = try options.client()
        await client.connect()
        let output = Output()
        let limit = count
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for topic in topics {
                    let subscription = try await client.channel(topic).subscribe(since: since)
                    group.addTask {
                        for await message in subscription {
                            guard output.print(message.frameJSON, limit: limit) else { return }
                        }
                    }
                }
                // Done when the count is reached; otherwise the streams end with the client.
                try await group.next()
                group.cancelAll()
            }
        } catch let error as ChorusClientError {
            await client.close()
            throw CommandError(error.description)
        }
        await client.close()
    }

    /// `OFFSET:EPOCH` or `MILLISECONDS`.
    static func since(_ text: String) throws -> RecoveryPosition {
        if let colon = text.firstIndex(of: ":") {
            guard let offset = UInt64(text[..<colon]) else { throw CommandError("--since \(text): the offset before ':' must be a number") }
            return .offset(offset, epoch: String(text[text.index(after: colon)...]))
        }
        guard let milliseconds = Int64(text) else { throw CommandError("--since \(text): expected OFFSET:EPOCH or milliseconds") }
        return .timestamp(milliseconds: milliseconds)
    }

    /// Standard output, one whole line at a time, counting lines.
    final class Output: Sendable {
        private let printed = Mutex(0)

        /// Prints `line` unless `limit` lines were printed; false once the limit is reached.
        func print(_ line: String, limit: Int?) -> Bool {
            self.printed.withLock { printed in
                if let limit, printed >= limit { return false }
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
                printed += 1
                return limit.map { printed < $0 } ?? true
            }
        }
    }
}
