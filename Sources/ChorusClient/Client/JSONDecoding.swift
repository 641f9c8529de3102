public import ChorusCore
public import Foundation
public import NIOCore

extension SyncRecord {
    /// The record's `data` as JSON text.
    public var dataJSON: String { String(buffer: self.data) }

    /// Decodes the record's `data` as `type`.
    public func decode<Value: Decodable>(_ type: Value.Type = Value.self, using decoder: JSONDecoder = JSONDecoder()) throws -> Value {
        try decoder.decode(type, from: Data(self.data.readableBytesView))
    }
}

extension PresenceMember {
    /// The member's `meta` as JSON text.
    public var metaJSON: String { String(buffer: self.meta) }

    /// Decodes the member's `meta` as `type`.
    public func decodeMeta<Value: Decodable>(_ type: Value.Type = Value.self, using decoder: JSONDecoder = JSONDecoder()) throws -> Value {
        try decoder.decode(type, from: Data(self.meta.readableBytesView))
    }
}
