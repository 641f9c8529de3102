import ChorusClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// `chorus events`: the event bus's HTTP API for operators (docs/event-bus.md, "Operating"):
/// publish one event, follow the log, see the stats, list and retry or clear dead letters, replay.
enum EventsCommand {
    static let usage = """
        Usage: chorus events publish TYPE DATA [--event-id ID] [--partition-key KEY] [--correlation-id ID]
               chorus events tail [--topic PATTERN] [--after SEQUENCE | --from-start] [--count N] [--interval 1s]
               chorus events stats
               chorus events dlq list [--consumer NAME] [--limit 100]
               chorus events dlq retry|clear (--id ID... | --consumer NAME | --all)
               chorus events replay --from MS --to MS [--type TYPE]... [--consumer NAME]

        Talks to a running hub's /api/events/* with its API key. DATA is sent as JSON when it
        parses as JSON, otherwise as a JSON string. publish prints the receipt; tail prints each
        event as a JSON line, from the end of the log unless told where, until --count events or
        Ctrl-C; the others print the hub's answer. An HTTP error exits 1 with the hub's message.
          --url URL            the hub (default CHORUS_URL or http://127.0.0.1:8080)
          --api-key KEY        the API key (default CHORUS_API_KEY)
        """

    static func run(_ arguments: [String]) async throws {
        var scanner = ArgumentScanner(arguments, usage: Self.usage)
        var words: [String] = []
        var options: [String: [String]] = [:]
        var flags: Set<String> = []
        var url = Console.environment()["CHORUS_URL"] ?? "http://127.0.0.1:8080"
        var apiKey = Console.environment()["CHORUS_API_KEY"]
        let valued: Set = ["--event-id", "--partition-key", "--correlation-id", "--topic", "--after", "--count", "--interval",
                           "--consumer", "--limit", "--id", "--from", "--to", "--type"]
        while let argument = scanner.next() {
            switch argument {
            case "--url": url = try scanner.value(of: argument)
            case "--api-key": apiKey = try scanner.value(of: argument)
            case "--from-start", "--all": flags.insert(argument)
            case "--help", "-h":
                print(Self.usage)
                return
            case let name where valued.contains(name):
                options[name, default: []].append(try scanner.value(of: name))
            case let other where other.hasPrefix("-") && !(words.first == "publish" && words.count == 2):
                throw CommandError("unknown option '\(other)'\n\n\(Self.usage)")
            default:
                words.append(argument)
            }
        }
        let endpoint: HubEndpoint
        do {
            endpoint = try HubEndpoint(url)
        } catch {
            throw CommandError("--url: \(error.message)")
        }
        let api = EventsAPI(endpoint: endpoint, apiKey: apiKey)
        var request = EventsRequest(options: options, flags: flags, usage: Self.usage)
        let call: (method: HTTPMethod, path: String, body: String?)
        switch words {
        case let command where command.count == 3 && command[0] == "publish":
            call = (.POST, "/api/events/publish", try request.publishBody(type: words[1], data: words[2]))
        case ["tail"]:
            return try await Self.tail(api, &request)
        case ["stats"]:
            call = (.GET, "/api/events/stats", nil)
        case ["dlq", "list"]:
            call = (.GET, "/api/events/dlq" + (try request.query(["--consumer": "consumer", "--limit": "limit"])), nil)
        case ["dlq", "retry"]:
            call = (.POST, "/api/events/dlq/retry", try request.deadLetterSelection())
        case ["dlq", "clear"]:
            call = (.DELETE, "/api/events/dlq/clear", try request.deadLetterSelection())
        case ["replay"]:
            call = (.POST, "/api/events/replay", try request.replayBody())
        default:
            throw CommandError("give one of: publish TYPE DATA, tail, stats, dlq list|retry|clear, replay\n\n\(Self.usage)")
        }
        try request.finish()
        print(try await api.send(call.method, call.path, body: call.body))
    }

    /// Prints the log's events as JSON lines, polling for new ones.
    static func tail(_ api: EventsAPI, _ request: inout EventsRequest) async throws {
        let count = try request.number("--count", minimum: 1)
        let interval = try request.seconds("--interval", default: 1)
        let topic = try request.query(["--topic": "topic"])
        let start = try request.number("--after", minimum: 0)
        try request.finish()
        var after: Int64
        if let start {
            after = Int64(start)
        } else if request.flags.contains("--from-start") {
            after = 0
        } else {
            let stats = try await api.json(.GET, "/api/events/stats")
            after = ((stats["log"] as? [String: Any])?["last_sequence"] as? NSNumber)?.int64Value ?? 0
        }
        var printed = 0
        while true {
            let page = try await api.json(.GET, "/api/events/log?after=\(after)&limit=1000" + topic.replacingOccurrences(of: "?", with: "&"))
            let events = page["events"] as? [[String: Any]] ?? []
            for event in events {
                // Written at once, unbuffered: a pipe reader sees each event as it comes.
                FileHandle.standardOutput.write(try JSONSerialization.data(withJSONObject: event, options: [.sortedKeys, .withoutEscapingSlashes]) + Data("\n".utf8))
                after = max(after, (event["sequence"] as? NSNumber)?.int64Value ?? after)
                printed += 1
                if let count, printed >= count { return }
            }
            if events.count < 1000 { try await Task.sleep(for: .milliseconds(Int64(interval * 1000))) }
        }
    }
}

/// One hub's event API, authenticated with the API key.
struct EventsAPI {
    let endpoint: HubEndpoint
    let apiKey: String?

    /// The answer's body as text; an error answer throws its code and message.
    func send(_ method: HTTPMethod, _ path: String, body: String? = nil) async throws -> String {
        let reply: (status: Int, body: ByteBuffer)
        do {
            reply = try await HubHTTP.request(self.endpoint, method: method, path: path, body: body.map { ByteBuffer(string: $0) }, bearer: self.apiKey)
        } catch let error as NIOConnectionError {
            let reason = error.connectionErrors.first.map { "\($0.error)" } ?? "\(error)"
            throw CommandError("cannot reach the hub at \(self.endpoint.httpOrigin): \(reason)", exitCode: 1)
        } catch {
            throw CommandError("cannot reach the hub at \(self.endpoint.httpOrigin): \(error)", exitCode: 1)
        }
        let text = String(buffer: reply.body)
        guard (200..<300).contains(reply.status) else {
            let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
            let error = object?["error"] as? [String: Any]
            var message = "HTTP \(reply.status)"
            if let code = error?["code"] as? String { message += " \(code)" }
            if let detail = error?["message"] as? String { message += ": \(detail)" }
            for violation in error?["violations"] as? [[String: Any]] ?? [] {
                // The JSON pointer into the event's data ("" is the data itself).
                message += "\n  at \"\(violation["instance_location"] as? String ?? "?")\": \(violation["message"] as? String ?? "")"
            }
            throw CommandError(error == nil ? "\(message): \(text.prefix(300))" : message, exitCode: 1)
        }
        return text
    }

    /// The answer as a JSON object.
    func json(_ method: HTTPMethod, _ path: String) async throws -> [String: Any] {
        let text = try await self.send(method, path)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw CommandError("the hub's answer to \(path) is not a JSON object", exitCode: 1)
        }
        return object
    }
}

/// The options of one `chorus events` command, read as it needs them; whatever it did not read
/// is refused.
struct EventsRequest {
    private var options: [String: [String]]
    let flags: Set<String>
    let usage: String

    init(options: [String: [String]], flags: Set<String>, usage: String) {
        self.options = options
        self.flags = flags
        self.usage = usage
    }

    mutating func take(_ name: String) -> [String] {
        self.options.removeValue(forKey: name) ?? []
    }

    mutating func single(_ name: String) throws -> String? {
        let values = self.take(name)
        guard values.count <= 1 else { throw CommandError("\(name) is given more than once\n\n\(self.usage)") }
        return values.first
    }

    mutating func number(_ name: String, minimum: Int) throws -> Int? {
        guard let text = try self.single(name) else { return nil }
        guard let value = Int(text), value >= minimum else {
            throw CommandError("\(name) needs a whole number of at least \(minimum), not '\(text)'\n\n\(self.usage)")
        }
        return value
    }

    mutating func seconds(_ name: String, default value: Double) throws -> Double {
        guard let text = try self.single(name) else { return value }
        let number = text.hasSuffix("ms") ? Double(text.dropLast(2)).map { $0 / 1000 } : Double(text.hasSuffix("s") ? String(text.dropLast()) : text)
        guard let number, number > 0, number <= 3600 else { throw CommandError("\(name) needs a time such as 1s or 500ms, not '\(text)'\n\n\(self.usage)") }
        return number
    }

    /// `?key=value&…` for the options given (percent-encoded), or "".
    mutating func query(_ names: [String: String]) throws -> String {
        var items: [URLQueryItem] = []
        for (option, key) in names.sorted(by: { $0.key < $1.key }) {
            if let value = try self.single(option) { items.append(URLQueryItem(name: key, value: value)) }
        }
        guard !items.isEmpty else { return "" }
        var components = URLComponents()
        components.queryItems = items
        return "?" + (components.percentEncodedQuery ?? "")
    }

    mutating func publishBody(type: String, data: String) throws -> String {
        let value: Any = (try? JSONSerialization.jsonObject(with: Data(data.utf8), options: [.fragmentsAllowed])) ?? data
        var body: [String: Any] = ["type": type, "data": value]
        for (option, key) in [("--event-id", "event_id"), ("--partition-key", "partition_key"), ("--correlation-id", "correlation_id")] {
            if let text = try self.single(option) { body[key] = text }
        }
        return try Self.encode(body)
    }

    /// `{"ids": […]}`, `{"consumer": …}` or `{"all": true}`, from exactly one of the options.
    mutating func deadLetterSelection() throws -> String {
        let ids = self.take("--id")
        let consumer = try self.single("--consumer")
        let all = self.flags.contains("--all")
        guard [!ids.isEmpty, consumer != nil, all].filter({ $0 }).count == 1 else {
            throw CommandError("give exactly one of --id ID (repeatable), --consumer NAME or --all\n\n\(self.usage)")
        }
        if let consumer { return try Self.encode(["consumer": consumer]) }
        if all { return #"{"all":true}"# }
        var numbers: [Int64] = []
        for id in ids {
            guard let number = Int64(id), number > 0 else { throw CommandError("--id needs a dead letter's id (a whole number), not '\(id)'\n\n\(self.usage)") }
            numbers.append(number)
        }
        return try Self.encode(["ids": numbers])
    }

    mutating func replayBody() throws -> String {
        guard let from = try self.number("--from", minimum: 0), let to = try self.number("--to", minimum: 0) else {
            throw CommandError("replay needs --from and --to (milliseconds since the Unix epoch)\n\n\(self.usage)")
        }
        var body: [String: Any] = ["from": from, "to": to]
        let types = self.take("--type")
        if !types.isEmpty { body["types"] = types }
        if let consumer = try self.single("--consumer") { body["consumer"] = consumer }
        return try Self.encode(body)
    }

    /// Refuses options the command does not use (`--limit` on `stats`, say), before it runs.
    func finish() throws {
        if let unused = self.options.keys.sorted().first {
            throw CommandError("\(unused) does not apply to this command\n\n\(self.usage)")
        }
    }

    static func encode(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}
