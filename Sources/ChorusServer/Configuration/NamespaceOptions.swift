public import ChorusCore
public import ChorusWasm
import NIOCore

/// Options for one topic namespace (`chat` for `chat:general`), from the `namespaces` object.
public struct NamespaceOptions: Sendable, Equatable {
    /// Messages kept per topic; 0 means no history (topics never touch the store).
    public var historySize = 0
    /// How long a message is kept; nil keeps it until `historySize` pushes it out.
    public var historyTTL: Duration?
    /// Who may publish to the namespace's topics from a client connection or a client token.
    public var publish = PublishPolicy.clients
    /// Whether anonymous clients may subscribe to the namespace's topics.
    public var anonymousSubscribe = true
    /// Whether each topic belongs to one user, named right after the namespace
    /// (`user:alice`, `user:alice.inbox`, `inbox.alice`): only that user subscribes or publishes.
    public var userScoped = false
    /// Whether a message published to one of the namespace's topics is sent as a Web Push
    /// notification to the users whose push subscriptions opted that topic in and who have no
    /// open connection on this hub.
    public var push = false
    /// A WebAssembly module (`.wasm`, or WebAssembly text in a `.wat` file) every publish to the
    /// namespace goes through (docs/wasm.md); nil: none.
    public var transform: String?
    /// What one call of `transform` may use.
    public var transformLimits = TransformLimits()
    /// Whether clients may join the presence of the namespace's topics (`presence_join`).
    public var presence = false
    /// The most connections present in one topic; a join past it is refused (`forbidden`).
    public var presenceMaxMembers = NamespaceOptions.defaultPresenceMaxMembers
    /// The largest presence `meta` a member may have, in bytes of JSON.
    public var presenceMaxMetaSize = NamespaceOptions.defaultPresenceMaxMetaSize

    /// 10,000: the room size presence is built and measured for (docs/performance.md).
    public static let defaultPresenceMaxMembers = 10_000
    /// 1 KiB: a status, a name, a colour and a cursor, not a document. A snapshot of a full
    /// topic is then at most about 10 MB.
    public static let defaultPresenceMaxMetaSize = 1024

    /// Who may publish to a namespace's topics (the HTTP API with the API key always may).
    public enum PublishPolicy: String, Sendable, CaseIterable {
        /// Every client that may connect, anonymous ones included.
        case clients
        /// Clients with a valid token.
        case authenticated
        /// Only the server side: the HTTP API with the API key, or code embedding the hub.
        case server
    }

    /// A namespace's options; by default no history, clients may publish, anyone may subscribe.
    public init(
        historySize: Int = 0,
        historyTTL: Duration? = nil,
        publish: PublishPolicy = .clients,
        anonymousSubscribe: Bool = true,
        userScoped: Bool = false,
        push: Bool = false,
        transform: String? = nil,
        transformLimits: TransformLimits = TransformLimits(),
        presence: Bool = false,
        presenceMaxMembers: Int = NamespaceOptions.defaultPresenceMaxMembers,
        presenceMaxMetaSize: Int = NamespaceOptions.defaultPresenceMaxMetaSize
    ) {
        self.historySize = historySize
        self.historyTTL = historyTTL
        self.publish = publish
        self.anonymousSubscribe = anonymousSubscribe
        self.userScoped = userScoped
        self.push = push
        self.transform = transform
        self.transformLimits = transformLimits
        self.presence = presence
        self.presenceMaxMembers = presenceMaxMembers
        self.presenceMaxMetaSize = presenceMaxMetaSize
    }

    /// Whether the namespace's topics keep history.
    public var keepsHistory: Bool { self.historySize > 0 }

    /// Whether the namespace restricts reading for a client that is (or is not) anonymous.
    func restrictsReading(anonymous: Bool) -> Bool {
        self.userScoped || (anonymous && !self.anonymousSubscribe)
    }

    /// Parses `{"chat": {"history_size": 1000, "history_ttl": "24h"}, …}`.
    ///
    /// Uses Chorus's own strict JSON scanner: Foundation's on Linux reads 0 and 1 as booleans.
    static func parseAll(_ text: String) throws(ConfigurationError) -> [String: NamespaceOptions] {
        let object: JSONObject
        do {
            object = try JSONObject(parsing: ByteBuffer(string: text))
        } catch {
            throw ConfigurationError("namespaces must be a JSON object such as {\"chat\": {\"history_size\": 1000}}: \(error.description)")
        }
        var result: [String: NamespaceOptions] = [:]
        for name in object.keys {
            guard let value = object[name], value.kind == .object, let fields = try? value.object() else {
                throw ConfigurationError("namespace '\(name)' must be an object")
            }
            result[name] = try Self(name: name, fields: fields)
        }
        return result
    }

    private init(name: String, fields: JSONObject) throws(ConfigurationError) {
        for key in fields.keys {
            guard let value = fields[key] else { continue }
            switch key {
            case "history_size":
                guard value.kind == .number, let size = value.int64, size >= 0, size <= Int.max else {
                    throw ConfigurationError("namespace '\(name)': history_size must be a whole number ≥ 0")
                }
                self.historySize = Int(size)
            case "history_ttl":
                let text = value.string ?? (value.kind == .number ? String(buffer: value.bytes) : "")
                do {
                    let ttl = try ValueParsing.duration(text)
                    self.historyTTL = ttl == .zero ? nil : ttl
                } catch {
                    throw ConfigurationError("namespace '\(name)': history_ttl: \(error.message)")
                }
            case "publish":
                guard let text = value.string, let policy = PublishPolicy(rawValue: text) else {
                    throw ConfigurationError("namespace '\(name)': publish must be one of \(PublishPolicy.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                self.publish = policy
            case "anonymous_subscribe":
                self.anonymousSubscribe = try Self.flag(value, "anonymous_subscribe", of: name)
            case "user_scoped":
                self.userScoped = try Self.flag(value, "user_scoped", of: name)
            case "push":
                self.push = try Self.flag(value, "push", of: name)
            case "transform":
                guard let path = value.string, !path.isEmpty else {
                    throw ConfigurationError("namespace '\(name)': transform must be the path of a .wasm or .wat file")
                }
                self.transform = path
            case "transform_fuel":
                self.transformLimits.fuel = UInt64(try Self.whole(value, "transform_fuel", of: name, in: 1...Int.max))
            case "transform_max_pages":
                self.transformLimits.maxMemoryPages = try Self.whole(value, "transform_max_pages", of: name, in: 1...65536)
            case "transform_max_output":
                self.transformLimits.maxOutputBytes = try Self.whole(value, "transform_max_output", of: name, in: 1...Int(Int32.max))
            case "presence":
                self.presence = try Self.flag(value, "presence", of: name)
            case "presence_max_members":
                self.presenceMaxMembers = try Self.whole(value, "presence_max_members", of: name, in: 1...1_000_000)
            case "presence_max_meta_size":
                self.presenceMaxMetaSize = try Self.whole(value, "presence_max_meta_size", of: name, in: 2...65536)
            default:
                throw ConfigurationError("namespace '\(name)': unknown option '\(key)'")
            }
        }
    }

    private static func whole(_ value: RawJSON, _ option: String, of name: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard value.kind == .number, let number = value.int64, range.contains(Int(clamping: number)) else {
            throw ConfigurationError("namespace '\(name)': \(option) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(number)
    }

    private static func flag(_ value: RawJSON, _ option: String, of name: String) throws(ConfigurationError) -> Bool {
        guard let flag = value.bool else {
            throw ConfigurationError("namespace '\(name)': \(option) must be true or false")
        }
        return flag
    }

    static func describe(_ namespaces: [String: NamespaceOptions]) -> String {
        guard !namespaces.isEmpty else { return "{}" }
        let parts = namespaces.sorted { $0.key < $1.key }.map { name, options in
            var fields = ["\"history_size\": \(options.historySize)"]
            if let ttl = options.historyTTL { fields.append("\"history_ttl\": \"\(ValueParsing.formatDuration(ttl))\"") }
            if options.publish != .clients { fields.append("\"publish\": \"\(options.publish.rawValue)\"") }
            if !options.anonymousSubscribe { fields.append("\"anonymous_subscribe\": false") }
            if options.userScoped { fields.append("\"user_scoped\": true") }
            if options.push { fields.append("\"push\": true") }
            if let transform = options.transform {
                var quoted = ByteBuffer()
                quoted.writeJSONString(transform)
                fields.append("\"transform\": \(String(buffer: quoted))")
            }
            let limits = options.transformLimits, defaults = TransformLimits()
            if limits.fuel != defaults.fuel { fields.append("\"transform_fuel\": \(limits.fuel)") }
            if limits.maxMemoryPages != defaults.maxMemoryPages { fields.append("\"transform_max_pages\": \(limits.maxMemoryPages)") }
            if limits.maxOutputBytes != defaults.maxOutputBytes { fields.append("\"transform_max_output\": \(limits.maxOutputBytes)") }
            if options.presence { fields.append("\"presence\": true") }
            if options.presenceMaxMembers != Self.defaultPresenceMaxMembers { fields.append("\"presence_max_members\": \(options.presenceMaxMembers)") }
            if options.presenceMaxMetaSize != Self.defaultPresenceMaxMetaSize { fields.append("\"presence_max_meta_size\": \(options.presenceMaxMetaSize)") }
            return "\"\(name)\": {\(fields.joined(separator: ", "))}"
        }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}

extension HubConfiguration {
    /// The options of `topic`'s namespace, when its namespace is configured.
    public func namespace(of topic: Topic) -> NamespaceOptions? {
        self.namespaces[String(topic.namespace)]
    }
}
