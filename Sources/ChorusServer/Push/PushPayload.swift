import ChorusCore
import NIOCore

/// What the service worker gets in a `push` event (clients/js/chorus-sw.js shows it):
/// `{"title", "body", "url", "icon", "tag", "data", "topic", "event", "message_id"}`, each only
/// when set, `data` as JSON text written as given.
struct PushPayload: Sendable, Equatable {
    var title: String?
    var body: String?
    var url: String?
    var icon: String?
    var tag: String?
    /// Any JSON value, for the page (passed through).
    var data: ByteBuffer?
    var topic: String?
    var event: String?
    var messageID: String?

    /// The notification of a message published to a `push: true` namespace: its data's
    /// `title`, `body` (or `text`), `url` and `icon` when it is an object that has them, its
    /// text when it is a string; the topic as the title and tag otherwise. The data itself goes
    /// along while the payload stays within one push message.
    init(message envelope: MessageEnvelope) {
        let object = try? JSONObject(parsing: envelope.data)
        self.title = object?["title"]?.string ?? object?["name"]?.string ?? envelope.topic
        self.body = object?["body"]?.string ?? object?["text"]?.string ?? Self.string(envelope.data)
        self.url = object?["url"]?.string
        self.icon = object?["icon"]?.string
        self.tag = envelope.topic
        self.data = envelope.data
        self.topic = envelope.topic
        self.event = envelope.event
        self.messageID = envelope.messageID
    }

    /// `data`'s text when it is a JSON string.
    private static func string(_ data: ByteBuffer) -> String? {
        guard data.readableBytesView.first == UInt8(ascii: "\"") else { return nil }
        var wrapped = ByteBuffer(string: #"{"s":"#)
        var data = data
        wrapped.writeBuffer(&data)
        wrapped.writeStaticString("}")
        return (try? JSONObject(parsing: wrapped))?["s"]?.string
    }

    init(title: String?, body: String?, url: String?, icon: String?, tag: String?, data: ByteBuffer?) {
        self.title = title
        self.body = body
        self.url = url
        self.icon = icon
        self.tag = tag
        self.data = data
    }

    /// The JSON text; `data` is left out when the whole would exceed `limit` bytes, and the
    /// body cut to fit after that.
    func encoded(limit: Int) -> [UInt8] {
        var full = self.write(includeData: true, body: self.body)
        if full.readableBytes <= limit { return Array(full.readableBytesView) }
        full = self.write(includeData: false, body: self.body)
        if full.readableBytes <= limit { return Array(full.readableBytesView) }
        let excess = full.readableBytes - limit
        // Cut on a byte: a split character decodes as U+FFFD, which is fine in a notification.
        let body = self.body.map { String(decoding: $0.utf8.prefix(max(0, $0.utf8.count - excess - 8)), as: UTF8.self) }
        return Array(self.write(includeData: false, body: (body ?? "") + "…").readableBytesView)
    }

    private func write(includeData: Bool, body: String?) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeStaticString("{")
        var first = true
        func field(_ name: String, _ value: String?) {
            guard let value else { return }
            if !first { buffer.writeStaticString(",") }
            first = false
            buffer.writeJSONString(name)
            buffer.writeStaticString(":")
            buffer.writeJSONString(value)
        }
        field("title", self.title)
        field("body", body)
        field("url", self.url)
        field("icon", self.icon)
        field("tag", self.tag)
        field("topic", self.topic)
        field("event", self.event)
        field("message_id", self.messageID)
        if includeData, var data = self.data {
            if !first { buffer.writeStaticString(",") }
            buffer.writeStaticString(#""data":"#)
            buffer.writeBuffer(&data)
        }
        buffer.writeStaticString("}")
        return buffer
    }
}
