public import ChorusCore

/// A bridge consumer's topic template, `events.{type}` or `orders.{data.customer.id}`: the hub
/// topic an event is published to, with `{type}` and `{data.path}` (dot-separated members,
/// digits index arrays) filled in from the event.
public struct BridgeTemplate: Sendable, Hashable {
    enum Part: Sendable, Hashable {
        case text(String)
        case type
        case data([String])
    }

    let parts: [Part]

    /// Parses `template`; nil when a brace is unbalanced, a placeholder is neither `type` nor
    /// `data.…`, or its text could not make a topic (a character no topic has, an empty segment,
    /// longer than a topic may be).
    public init?(_ template: String) {
        var parts: [Part] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            let literal = rest[..<open]
            guard !literal.contains("}") else { return nil }
            if !literal.isEmpty { parts.append(.text(String(literal))) }
            guard let close = rest[open...].firstIndex(of: "}") else { return nil }
            let name = rest[rest.index(after: open)..<close]
            if name == "type" {
                parts.append(.type)
            } else if name.hasPrefix("data."), case let path = name.dropFirst(5).split(separator: ".", omittingEmptySubsequences: false).map(String.init),
                !path.contains(where: \.isEmpty)
            {
                parts.append(.data(path))
            } else {
                return nil
            }
            rest = rest[rest.index(after: close)...]
        }
        guard !rest.contains("}") else { return nil }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        guard !parts.isEmpty else { return nil }
        // Its text must be able to make a topic: with each placeholder as one character, the
        // template is a valid topic (topic characters, no empty segment, within the length).
        let sample = parts.map { part -> String in
            if case .text(let text) = part { return text }
            return "x"
        }.joined()
        guard (try? Topic(sample)) != nil else { return nil }
        self.parts = parts
    }

    /// The topic for `event`; nil when a data path leads nowhere or to an object or array, or
    /// the text is not a valid topic.
    public func topic(for event: Event) -> Topic? {
        var name = ""
        var data: JSONValue?
        for part in self.parts {
            switch part {
            case .text(let text): name += text
            case .type: name += event.type
            case .data(let path):
                if data == nil { data = try? JSONValue(parsing: event.data) }
                guard var value = data else { return nil }
                for member in path {
                    switch value {
                    case .object(let object):
                        guard let next = object[member] else { return nil }
                        value = next
                    case .array(let elements):
                        guard let index = Int(member), elements.indices.contains(index) else { return nil }
                        value = elements[index]
                    default: return nil
                    }
                }
                switch value {
                case .string(let text): name += text
                case .number(let number): name += number.text
                case .bool(let flag): name += String(flag)
                default: return nil
                }
            }
        }
        return try? Topic(name)
    }
}
