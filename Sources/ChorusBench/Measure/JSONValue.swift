import Foundation

/// A JSON value that keeps the order of object keys, for the one line a run prints at the end.
indirect enum JSONValue: Sendable {
    case integer(Int)
    case number(Double)
    case string(String)
    case bool(Bool)
    case null
    case object([(String, JSONValue)])

    var text: String {
        switch self {
        case .integer(let value): return String(value)
        case .number(let value): return value.isFinite ? String(format: "%.6g", value) : "null"
        case .string(let value): return Self.quoted(value)
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        case .object(let fields): return "{" + fields.map { Self.quoted($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    private static func quoted(_ string: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return String(decoding: (try? encoder.encode(string)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}
