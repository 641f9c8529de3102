import Foundation

/// How stores keep an event's headers in one text column: a JSON object, or NULL when empty.
package enum EventHeaders {
    /// The column's value for `headers`.
    package static func encode(_ headers: [String: String]) -> String? {
        guard !headers.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // A [String: String] always encodes.
        return String(decoding: try! encoder.encode(headers), as: UTF8.self)
    }

    /// The headers a column holds; an unreadable value (edited by hand) reads as none.
    package static func decode(_ text: String?) -> [String: String] {
        guard let text else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }
}
