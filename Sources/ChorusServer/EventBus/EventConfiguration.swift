import ChorusCore
import Foundation
import NIOCore

/// The event bus's options parsed from configuration text (`event_schemas`, `event_consumers`),
/// and the bus's options from the hub's configuration.
enum EventConfiguration {
    /// `{"type": schema, …}`: each schema compiled now, so a bad one stops the start.
    static func schemas(_ text: String) throws(ConfigurationError) -> [String: String] {
        guard !text.isEmpty else { return [:] }
        let object: JSONObject
        do {
            object = try JSONObject(parsing: ByteBuffer(string: text))
        } catch {
            throw ConfigurationError("event_schemas must be a JSON object of schemas by event type: \(error.description)")
        }
        var schemas: [String: String] = [:]
        for type in object.keys {
            guard let raw = object[type] else { continue }
            let source = String(buffer: raw.bytes)
            _ = try EventBus.compile(source, type: type)
            schemas[type] = source
        }
        return schemas
    }

    /// `[{"name": …, …}, …]`, names unique.
    static func consumers(_ text: String) throws(ConfigurationError) -> [EventConsumer] {
        guard !text.isEmpty else { return [] }
        guard let list = (try? RawJSON(validating: ByteBuffer(string: text)))?.elements else {
            throw ConfigurationError("event_consumers must be a JSON array of consumer objects")
        }
        var consumers: [EventConsumer] = []
        for item in list {
            let consumer = try EventConsumer(parsing: item.bytes)
            guard !consumers.contains(where: { $0.name == consumer.name }) else {
                throw ConfigurationError("event_consumers: two consumers are named '\(consumer.name)'")
            }
            consumers.append(consumer)
        }
        return consumers
    }

    /// `events_client_types`: comma-separated type patterns.
    static func clientTypes(_ text: String) throws(ConfigurationError) -> [TopicPattern] {
        var patterns: [TopicPattern] = []
        for item in ValueParsing.list(text) {
            do {
                patterns.append(try TopicPattern(item))
            } catch {
                throw ConfigurationError("events_client_types: \(ProtocolError.quoted(item)) is not an event type pattern: \(error.description)")
            }
        }
        return patterns
    }

    /// The bus's options from the hub's configuration.
    static func options(_ configuration: HubConfiguration) -> EventBus.Options {
        var options = EventBus.Options()
        options.idempotencyWindow = configuration.eventsIdempotencyWindow.milliseconds
        options.maxDataSize = configuration.eventsMaxDataSize
        options.retention = EventRetention(
            maxAge: configuration.eventsRetentionMaxAge == .zero ? nil : configuration.eventsRetentionMaxAge.milliseconds,
            maxEvents: configuration.eventsRetentionMaxEvents == 0 ? nil : configuration.eventsRetentionMaxEvents,
            maxBytes: configuration.eventsRetentionMaxBytes == 0 ? nil : configuration.eventsRetentionMaxBytes)
        options.schemas = configuration.eventSchemas
        options.consumers = configuration.eventConsumers
        // The messages resource's bridge, unless a configured consumer takes its name.
        if configuration.messages, !options.consumers.contains(where: { $0.name == MessagesService.bridgeConsumer.name }) {
            options.consumers.append(MessagesService.bridgeConsumer)
        }
        options.node = configuration.nodeID ?? "node"
        return options
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 {
        self.components.seconds * 1000 + self.components.attoseconds / 1_000_000_000_000_000
    }
}
