import ChorusCore
import NIOCore

/// Options for one topic namespace (`chat` for `chat:general`), from the `namespaces` object.
public struct NamespaceOptions: Sendable, Equatable {
    /// Messages kept per topic; 0 means no history (topics never touch the store).
    public var historySize = 0
    /// How long a message is kept; nil keeps it until `historySize` pushes it out.
    public var historyTTL: Duration?

    public init(historySize: Int = 0, historyTTL: Duration? = nil) {
        self.historySize = historySize
        self.historyTTL = historyTTL
    }

    public var keepsHistory: Bool { self.historySize > 0 }

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
            default:
                throw ConfigurationError("namespace '\(name)': unknown option '\(key)'")
            }
        }
    }

    static func describe(_ namespaces: [String: NamespaceOptions]) -> String {
        guard !namespaces.isEmpty else { return "{}" }
        let parts = namespaces.sorted { $0.key < $1.key }.map { name, options in
            var fields = ["\"history_size\": \(options.historySize)"]
            if let ttl = options.historyTTL { fields.append("\"history_ttl\": \"\(ValueParsing.formatDuration(ttl))\"") }
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
