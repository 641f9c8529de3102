import ChorusCore
import Foundation

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
    static func parseAll(_ text: String) throws(ConfigurationError) -> [String: NamespaceOptions] {
        guard let data = text.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw ConfigurationError("namespaces must be a JSON object such as {\"chat\": {\"history_size\": 1000}}")
        }
        var result: [String: NamespaceOptions] = [:]
        for (name, value) in object {
            guard let fields = value as? [String: Any] else {
                throw ConfigurationError("namespace '\(name)' must be an object")
            }
            result[name] = try Self(name: name, fields: fields)
        }
        return result
    }

    private init(name: String, fields: [String: Any]) throws(ConfigurationError) {
        for (key, value) in fields {
            switch key {
            case "history_size":
                guard let size = value as? Int, size >= 0, !(value is Bool) else {
                    throw ConfigurationError("namespace '\(name)': history_size must be a whole number ≥ 0")
                }
                self.historySize = size
            case "history_ttl":
                let text = (value as? String) ?? (value as? NSNumber).map { $0.stringValue } ?? ""
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
