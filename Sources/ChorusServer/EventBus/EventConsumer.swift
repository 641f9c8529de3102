public import ChorusCore
import ChorusWasm
import Foundation
public import NIOCore

/// A consumer of the event bus, as configured (`event_consumers`) or saved by
/// `PUT /api/events/consumers/{name}`: which events it takes and where they go
/// (docs/event-bus.md, "Consumers").
public struct EventConsumer: Sendable {
    /// Where a consumer's deliveries go.
    public enum Target: Sendable, Equatable {
        /// A webhook: POSTed with Standard Webhooks headers, signed with each secret.
        case webhook(url: String, secrets: [String], headers: [String: String])
        /// Hub topics: the event's envelope is published to each (`{type}` and `{data.path}` filled in).
        case bridge(topics: [String])
        /// An in-process handler an embedding app registered by name (`EventBus.register(handler:named:)`).
        case handler(String)
    }

    /// Its unique name (letters, digits, `-`, `_`, `.`; at most 128 bytes).
    public var name: String
    /// The event types it takes: type patterns in topic syntax (`order.*`, `**`).
    public var types: [TopicPattern]
    /// Only events whose data satisfies it; nil: all of the types.
    public var filter: EventFilter?
    /// A WebAssembly module each event goes through before delivery (docs/event-bus.md,
    /// "Transforms"): it keeps, replaces or drops it; nil: none.
    public var transform: ConsumerTransform?
    /// Among the consumers of one event, higher priority starts first.
    public var priority: Int
    /// Where deliveries go.
    public var target: Target
    /// When to try again after a failure, and when to give up.
    public var retry: RetryPolicy
    /// How long one attempt may take.
    public var timeout: Duration
    /// The most deliveries in flight at once.
    public var concurrency: Int
    /// Per partition key in order, or unordered.
    public var ordering: DeliveryScheduler.Ordering
    /// Partitions its events hash into (fixed once it has events).
    public var partitions: Int
    /// False: nothing is delivered (a 410 sets it); its events wait.
    public var enabled: Bool
    /// The definition as JSON, as given (what `GET /api/events/consumers/{name}` shows, with `enabled` kept current).
    public var definition: [String: Any] {
        var body = (try? JSONSerialization.jsonObject(with: Data(self.body.utf8))) as? [String: Any] ?? [:]
        body["name"] = self.name
        body["enabled"] = self.enabled
        return body
    }

    /// The definition as JSON text (what is saved).
    public var definitionJSON: String {
        var text = self.body
        text.removeLast()
        let members = "\"name\":" + Self.quoted(self.name) + ",\"enabled\":" + String(self.enabled)
        return text + (text.count > 1 ? "," : "") + members + "}"
    }

    private static func quoted(_ text: String) -> String {
        var buffer = ByteBuffer()
        buffer.writeJSONString(text)
        return String(buffer: buffer)
    }

    /// The definition's JSON members (everything but `name` and `enabled`), as JSON text.
    private var body: String

    /// The default retry of bridges and handlers: 5 attempts, 100 ms doubling to 5 s.
    public static let defaultLocalRetry = try! RetryPolicy.exponential(base: .milliseconds(100), cap: .seconds(5), maxAttempts: 5, jitter: .equal)
    /// The bounds of a definition's lists (docs/openapi.yaml says the same).
    static let maxTypes = 16
    static let maxSecrets = 4
    static let maxBridgeTopics = 16
    static let maxRetrySchedule = 20
    /// The largest name.
    public static let maxNameLength = 128

    /// Parses a definition (the JSON of `PUT /api/events/consumers/{name}` or of one
    /// `event_consumers` element); `name` overrides the body's. The error names the member.
    public init(parsing json: ByteBuffer, name: String? = nil) throws(ConfigurationError) {
        guard case .object(let object)? = try? JSONValue(parsing: json), let raw = try? JSONObject(parsing: json) else {
            throw ConfigurationError("a consumer must be a JSON object")
        }
        guard let name = name ?? object["name"]?.stringValue else { throw ConfigurationError("a consumer needs a 'name'") }
        guard Self.isValidName(name) else {
            throw ConfigurationError("invalid consumer name '\(name)': 1 to \(Self.maxNameLength) letters, digits, '-', '_' or '.'")
        }
        if let given = object["name"], given.stringValue != name {
            throw ConfigurationError("consumer '\(name)': 'name' in the body differs from the name in the path")
        }
        let known = Set(["name", "types", "filter", "transform", "priority", "target", "retry", "timeout", "concurrency", "ordering", "partitions", "enabled"])
            .union(TransformOption.allCases.map(\.rawValue))
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw ConfigurationError("consumer '\(name)': unknown member '\(unknown)'")
        }
        func fail(_ message: String) -> ConfigurationError { ConfigurationError("consumer '\(name)': \(message)") }
        self.name = name
        guard case .array(let list)? = object["types"], case let types = list.compactMap(\.stringValue), types.count == list.count, !types.isEmpty else { throw fail("'types' must be a non-empty array of type patterns") }
        guard types.count <= Self.maxTypes else { throw fail("'types' has at most \(Self.maxTypes) patterns, not \(types.count)") }
        var patterns: [TopicPattern] = []
        for type in types {
            do { patterns.append(try TopicPattern(type)) } catch { throw fail("invalid type pattern '\(type)': \(error.description)") }
        }
        self.types = patterns
        switch object["filter"] {
        case nil, .null?, .string("")?: self.filter = nil
        case .string(let text)?:
            do { self.filter = try EventFilter(parsing: text) } catch { throw fail(error.description) }
        default: throw fail("'filter' must be a string")
        }
        self.transform = try Self.transform(object, fail)
        self.priority = try Self.integer(object["priority"], "priority", default: 0, range: -1000...1000, fail)
        self.concurrency = try Self.integer(object["concurrency"], "concurrency", default: 16, range: 1...1000, fail)
        self.partitions = try Self.integer(object["partitions"], "partitions", default: 16, range: 1...1024, fail)
        switch object["ordering"] {
        case nil: self.ordering = .ordered
        case .string(let text)?:
            guard let ordering = DeliveryScheduler.Ordering(rawValue: text) else { throw fail("'ordering' must be 'ordered' or 'unordered'") }
            self.ordering = ordering
        default: throw fail("'ordering' must be 'ordered' or 'unordered'")
        }
        switch object["enabled"] {
        case nil: self.enabled = true
        case .bool(let flag)?: self.enabled = flag
        default: throw fail("'enabled' must be true or false")
        }
        self.timeout = try Self.duration(object["timeout"], "timeout", default: .seconds(15), fail)
        guard self.timeout >= Self.timeoutRange.lowerBound, self.timeout <= Self.timeoutRange.upperBound else {
            throw fail("'timeout' must be between 1 ms and 1 h")
        }
        self.target = try Self.target(object["target"], fail)
        if case .webhook = self.target {
            self.retry = try Self.retry(object["retry"], default: .standardWebhooks, fail)
        } else {
            self.retry = try Self.retry(object["retry"], default: Self.defaultLocalRetry, fail)
        }
        var body = ByteBuffer()
        body.writeStaticString("{")
        for (index, key) in raw.keys.filter({ $0 != "name" && $0 != "enabled" }).enumerated() {
            guard let value = raw[key] else { continue }
            if index > 0 { body.writeStaticString(",") }
            body.writeJSONString(key)
            body.writeStaticString(":")
            body.writeImmutableBuffer(value.bytes)
        }
        body.writeStaticString("}")
        self.body = String(buffer: body)
    }

    /// Whether the consumer takes `event`: one of its type patterns matches the type, and its filter the data.
    public func matches(_ event: Event) -> Bool {
        guard let type = try? Topic(event.type), self.types.contains(where: { $0.matches(type) }) else { return false }
        guard let filter = self.filter else { return true }
        guard let data = try? RawJSON(validating: event.data) else { return false }
        return filter.matches(data: data)
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= Self.maxNameLength
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    private static func integer(
        _ value: JSONValue?, _ member: String, default fallback: Int, range: ClosedRange<Int>, _ fail: (String) -> ConfigurationError
    ) throws(ConfigurationError) -> Int {
        guard let value else { return fallback }
        guard case .number(let number) = value, let int = number.int64.flatMap({ Int(exactly: $0) }), range.contains(int) else {
            throw fail("'\(member)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return int
    }

    /// A duration: `"30s"`-style text or a number of seconds.
    /// How long one delivery attempt may take: from 1 ms to an hour.
    static let timeoutRange = Duration.milliseconds(1)...Duration.seconds(3600)

    private static func duration(_ value: JSONValue?, _ member: String, default fallback: Duration, _ fail: (String) -> ConfigurationError) throws(ConfigurationError) -> Duration {
        switch value {
        case nil: return fallback
        case .string(let text)?:
            do { return try ValueParsing.duration(text) } catch { throw fail("'\(member)': \(error.message)") }
        case .number(let number)? where number.double >= 0 && number.double <= ValueParsing.maxDurationSeconds:
            return .milliseconds(Int64((number.double * 1000).rounded()))
        default: throw fail("'\(member)' must be a duration such as \"500ms\" or \"30s\"")
        }
    }

    /// `transform` (the path of a `.wasm` or `.wat` file) and its limits, loaded and checked now.
    /// The limits are checked without a `transform` too, and then unused (as a namespace's are).
    private static func transform(_ object: JSONValue.Object, _ fail: (String) -> ConfigurationError) throws(ConfigurationError) -> ConsumerTransform? {
        var limits = TransformLimits()
        for option in TransformOption.allCases {
            guard let value = object[option.rawValue] else { continue }
            option.apply(try Self.integer(value, option.rawValue, default: 0, range: option.range, fail), to: &limits)
        }
        switch object["transform"] {
        case nil, .null?:
            return nil
        case .string(let path)? where path.hasSuffix(".wasm") || path.hasSuffix(".wat"):
            do {
                return try ConsumerTransform(path: path, limits: limits)
            } catch {
                throw fail("transform: \(error.message)")
            }
        default:
            throw fail("'transform' must be the path of a .wasm or .wat file on the hub")
        }
    }

    private static func target(_ value: JSONValue?, _ fail: (String) -> ConfigurationError) throws(ConfigurationError) -> Target {
        guard case .object(let object)? = value, object.count == 1, let (kind, spec) = object.members.first else {
            throw fail("'target' must be one of {\"webhook\": {…}}, {\"bridge\": {…}}, {\"handler\": \"name\"}")
        }
        switch kind {
        case "webhook":
            guard case .object(let webhook) = spec, let url = webhook["url"]?.stringValue,
                let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil
            else { throw fail("a webhook target needs a 'url' (http:// or https://)") }
            guard case .array(let list)? = webhook["secrets"], case let secrets = list.compactMap(\.stringValue), secrets.count == list.count, !secrets.isEmpty else { throw fail("a webhook target needs 'secrets': [\"whsec_…\"]") }
            guard secrets.count <= Self.maxSecrets else { throw fail("a webhook target has at most \(Self.maxSecrets) 'secrets' (for a rotation), not \(secrets.count)") }
            for secret in secrets {
                do { _ = try WebhookSecret(parsing: secret) } catch { throw fail("invalid webhook secret: \(error)") }
            }
            var headers: [String: String] = [:]
            if let given = webhook["headers"] {
                guard case .object(let members) = given else { throw fail("webhook 'headers' must be an object of strings") }
                for (name, value) in members.members {
                    guard let text = value.stringValue else { throw fail("webhook 'headers' must be an object of strings") }
                    headers[name] = text
                }
            }
            return .webhook(url: url, secrets: secrets, headers: headers)
        case "bridge":
            guard case .object(let bridge) = spec, case .array(let list)? = bridge["topics"], case let topics = list.compactMap(\.stringValue),
                topics.count == list.count, !topics.isEmpty
            else {
                throw fail("a bridge target needs 'topics': [\"events.{type}\", …]")
            }
            guard topics.count <= Self.maxBridgeTopics else { throw fail("a bridge target has at most \(Self.maxBridgeTopics) 'topics', not \(topics.count)") }
            for topic in topics where BridgeTemplate(topic) == nil {
                throw fail("invalid bridge topic template '\(topic)'")
            }
            return .bridge(topics: topics)
        case "handler":
            guard let name = spec.stringValue, !name.isEmpty else { throw fail("a handler target is {\"handler\": \"name\"}") }
            return .handler(name)
        default:
            throw fail("unknown target '\(kind)': webhook, bridge or handler")
        }
    }

    private static func retry(_ value: JSONValue?, default fallback: RetryPolicy, _ fail: (String) -> ConfigurationError) throws(ConfigurationError) -> RetryPolicy {
        guard let value else { return fallback }
        do {
            if case .array(let delays) = value {
                guard delays.count <= Self.maxRetrySchedule else { throw fail("a 'retry' schedule has at most \(Self.maxRetrySchedule) delays, not \(delays.count)") }
                var durations: [Duration] = []
                for delay in delays { durations.append(try Self.duration(delay, "retry", default: .zero, fail)) }
                return try RetryPolicy.schedule(durations)
            }
            guard case .object(let object) = value else { throw fail("'retry' must be a list of delays or {base, cap, max_attempts, jitter}") }
            if let unknown = object.keys.first(where: { !["base", "cap", "max_attempts", "jitter"].contains($0) }) {
                throw fail("unknown retry member '\(unknown)': base, cap, max_attempts, jitter (or a list of delays)")
            }
            let jitter: RetryPolicy.Jitter
            switch object["jitter"] {
            case nil: jitter = .full
            case .string(let text)?:
                guard let parsed = RetryPolicy.Jitter(rawValue: text) else { throw fail("retry 'jitter' must be full, equal or none") }
                jitter = parsed
            default: throw fail("retry 'jitter' must be full, equal or none")
            }
            let base = try Self.duration(object["base"], "retry.base", default: .seconds(1), fail)
            return try RetryPolicy.exponential(
                base: base,
                cap: try Self.duration(object["cap"], "retry.cap", default: max(base, .seconds(60)), fail),
                maxAttempts: try Self.integer(object["max_attempts"], "retry.max_attempts", default: 5, range: 1...100, fail),
                jitter: jitter
            )
        } catch let error as RetryPolicyError {
            throw fail("retry: \(error)")
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw fail("retry: \(error)")
        }
    }
}

extension JSONValue {
    /// The string, when this is one.
    fileprivate var stringValue: String? {
        if case .string(let text) = self { text } else { nil }
    }
}
