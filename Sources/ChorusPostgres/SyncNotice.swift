public import ChorusCore
public import NIOCore

/// A committed change as announced on ``PostgresSyncStore/channel``: its collection and
/// version, and its `sync_change` frame when that fits a notification (PostgreSQL allows
/// under 8,000 bytes); without it, a node reads the change from the store.
///
/// Payload: `<version> <collection>\n<frame JSON>` (a topic name has no space or newline).
public struct SyncNotice: Sendable, Equatable {
    /// The collection (a topic name).
    public var collection: String
    /// The collection's version the change made.
    public var version: UInt64
    /// The change's `sync_change` frame (JSON text); nil when it was too large to announce.
    public var frame: ByteBuffer?

    /// The largest payload sent with the frame; a larger change is announced without it.
    static let maxPayload = 7_900

    /// A notice.
    public init(collection: String, version: UInt64, frame: ByteBuffer?) {
        self.collection = collection
        self.version = version
        self.frame = frame
    }

    /// The notification's text for `change`.
    static func payload(of change: SyncChange) -> String {
        let head = "\(change.version) \(change.collection)\n"
        var frame = ByteBuffer()
        change.writeFrame(into: &frame)
        guard head.utf8.count + frame.readableBytes <= Self.maxPayload else { return head }
        return head + String(buffer: frame)
    }

    /// The notice a payload carries; nil when it is not one.
    public init?(payload: String) {
        let utf8 = payload.utf8
        guard let space = utf8.firstIndex(of: UInt8(ascii: " ")), let newline = utf8.firstIndex(of: UInt8(ascii: "\n")), space < newline,
            let version = UInt64(Substring(utf8[..<space]))
        else { return nil }
        let collection = String(Substring(utf8[utf8.index(after: space)..<newline]))
        let rest = utf8[utf8.index(after: newline)...]
        self.init(collection: collection, version: version, frame: rest.isEmpty ? nil : ByteBuffer(bytes: rest))
    }
}
