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
    /// The segment under which topics belong to users: with `user`, each topic
    /// `<namespace>.user.<name>…` belongs to user `<name>`, and only that user subscribes or
    /// publishes to it; the namespace's other topics are not affected. nil: none.
    public var userScopedUnder: String?
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
    /// Whether the namespace's topics are sync collections (`sync_subscribe`, `sync_mutate`,
    /// `/api/collections`); reading follows subscribe rights, writing the publish policy.
    public var sync = false
    /// The most records one collection holds; an insert past it is refused (`too_large`).
    public var syncMaxRecords = NamespaceOptions.defaultSyncMaxRecords
    /// The largest record `data`, in bytes of JSON.
    public var syncMaxRecordSize = NamespaceOptions.defaultSyncMaxRecordSize
    /// How many changes (and mutation ids) a collection keeps for resume and retries.
    public var syncChangesKept = NamespaceOptions.defaultSyncChangesKept
    /// How long a collection keeps a change for resume; nil: as long as `syncChangesKept` allows.
    public var syncChangesTTL: Duration?

    /// 10,000: the room size presence is built and measured for (docs/performance.md).
    public static let defaultPresenceMaxMembers = 10_000
    /// 1 KiB: a status, a name, a colour and a cursor, not a document. A snapshot of a full
    /// topic is then at most about 10 MB.
    public static let defaultPresenceMaxMetaSize = 1024
    /// 10,000: a task list or board, and a snapshot of about 10 MB at most with the default size.
    public static let defaultSyncMaxRecords = 10_000
    /// 16 KiB: a row of a table or a card, not a document.
    public static let defaultSyncMaxRecordSize = 16_384
    /// 10,000 changes: a client offline through that many changes resumes without a snapshot.
    public static let defaultSyncChangesKept = 10_000

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

    /// The limits of the namespace's sync collections.
    public var syncLimits: SyncLimits {
        SyncLimits(maxRecords: self.syncMaxRecords, maxRecordSize: self.syncMaxRecordSize, changesKept: self.syncChangesKept, mutationsKept: self.syncChangesKept,
            changesTTL: self.syncChangesTTL?.milliseconds)
    }

    /// Whether the namespace restricts reading for a client that is (or is not) anonymous.
    func restrictsReading(anonymous: Bool) -> Bool {
        self.userScoped || self.userScopedUnder != nil || (anonymous && !self.anonymousSubscribe)
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
                self.historyTTL = try Self.ttl(value, "history_ttl", of: name)
            case "publish":
                guard let text = value.string, let policy = PublishPolicy(rawValue: text) else {
                    throw ConfigurationError("namespace '\(name)': publish must be one of \(PublishPolicy.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                self.publish = policy
            case "anonymous_subscribe":
                self.anonymousSubscribe = try Self.flag(value, "anonymous_subscribe", of: name)
            case "user_scoped":
                self.userScoped = try Self.flag(value, "user_scoped", of: name)
            case "user_scoped_under":
                guard let segment = value.string, !segment.isEmpty, segment.utf8.count <= 64,
                    !segment.contains(where: { ".:*".contains($0) || $0.isWhitespace })
                else {
                    throw ConfigurationError("namespace '\(name)': user_scoped_under must be one topic segment such as \"user\" (no '.', ':', '*' or spaces)")
                }
                self.userScopedUnder = segment
            case "push":
                self.push = try Self.flag(value, "push", of: name)
            case "transform":
                guard let path = value.string, !path.isEmpty else {
                    throw ConfigurationError("namespace '\(name)': transform must be the path of a .wasm or .wat file")
                }
                self.transform = path
            case TransformOption.fuel.rawValue, TransformOption.maxPages.rawValue, TransformOption.maxOutput.rawValue:
                let option = TransformOption(rawValue: key)!
                option.apply(try Self.whole(value, key, of: name, in: option.range), to: &self.transformLimits)
            case "presence":
                self.presence = try Self.flag(value, "presence", of: name)
            case "presence_max_members":
                self.presenceMaxMembers = try Self.whole(value, "presence_max_members", of: name, in: 1...1_000_000)
            case "presence_max_meta_size":
                self.presenceMaxMetaSize = try Self.whole(value, "presence_max_meta_size", of: name, in: 2...65536)
            case "sync":
                self.sync = try Self.flag(value, "sync", of: name)
            case "sync_max_records":
                self.syncMaxRecords = try Self.whole(value, "sync_max_records", of: name, in: 1...10_000_000)
            case "sync_max_record_size":
                self.syncMaxRecordSize = try Self.whole(value, "sync_max_record_size", of: name, in: 2...1_048_576)
            case "sync_changes_kept":
                self.syncChangesKept = try Self.whole(value, "sync_changes_kept", of: name, in: 1...10_000_000)
            case "sync_changes_ttl":
                self.syncChangesTTL = try Self.ttl(value, "sync_changes_ttl", of: name)
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

    /// A duration (`"24h"`, or seconds as a number); nil for zero: no limit.
    private static func ttl(_ value: RawJSON, _ option: String, of name: String) throws(ConfigurationError) -> Duration? {
        let text = value.string ?? (value.kind == .number ? String(buffer: value.bytes) : "")
        do {
            let ttl = try ValueParsing.duration(text)
            return ttl == .zero ? nil : ttl
        } catch {
            throw ConfigurationError("namespace '\(name)': \(option): \(error.message)")
        }
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
            if let segment = options.userScopedUnder { fields.append("\"user_scoped_under\": \"\(segment)\"") }
            if options.push { fields.append("\"push\": true") }
            if let transform = options.transform {
                var quoted = ByteBuffer()
                quoted.writeJSONString(transform)
                fields.append("\"transform\": \(String(buffer: quoted))")
            }
            for option in TransformOption.allCases {
                if let value = option.nonDefault(in: options.transformLimits) { fields.append("\"\(option.rawValue)\": \(value)") }
            }
            if options.presence { fields.append("\"presence\": true") }
            if options.presenceMaxMembers != Self.defaultPresenceMaxMembers { fields.append("\"presence_max_members\": \(options.presenceMaxMembers)") }
            if options.presenceMaxMetaSize != Self.defaultPresenceMaxMetaSize { fields.append("\"presence_max_meta_size\": \(options.presenceMaxMetaSize)") }
            if options.sync { fields.append("\"sync\": true") }
            if options.syncMaxRecords != Self.defaultSyncMaxRecords { fields.append("\"sync_max_records\": \(options.syncMaxRecords)") }
            if options.syncMaxRecordSize != Self.defaultSyncMaxRecordSize { fields.append("\"sync_max_record_size\": \(options.syncMaxRecordSize)") }
            if options.syncChangesKept != Self.defaultSyncChangesKept { fields.append("\"sync_changes_kept\": \(options.syncChangesKept)") }
            if let ttl = options.syncChangesTTL { fields.append("\"sync_changes_ttl\": \"\(ValueParsing.formatDuration(ttl))\"") }
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
