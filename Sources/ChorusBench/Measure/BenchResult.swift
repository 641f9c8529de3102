import Foundation
import Histogram

/// The figures of one run, kept twice: as rows of the table printed for people (to stderr, with
/// the progress lines) and as the fields of the one JSON line printed for scripts (to stdout).
struct BenchResult {
    private var rows: [(String, String)] = []
    private(set) var fields: [(String, JSONValue)]

    init(mode: String) {
        self.fields = [("mode", .string(mode))]
    }

    mutating func add(_ key: String, _ value: JSONValue, _ label: String, _ display: String) {
        self.fields.append((key, value))
        self.rows.append((label, display))
    }

    mutating func add(_ key: String, integer: Int, _ label: String, unit: String = "") {
        self.add(key, .integer(integer), label, integer.grouped + unit)
    }

    mutating func add(_ key: String, number: Double, _ label: String, digits: Int = 2, unit: String = "") {
        self.add(key, .number(number), label, String(format: "%.\(digits)f", number) + unit)
    }

    mutating func addField(_ key: String, _ value: JSONValue) {
        self.fields.append((key, value))
    }

    /// p50 … max of a latency histogram (recorded in microseconds), as `<key>_us` and table rows.
    mutating func addLatency(_ key: String, _ histogram: Histogram<UInt64>, _ label: String) {
        guard histogram.totalCount > 0 else {
            self.add(key + "_us", .null, label, "no samples")
            return
        }
        let points: [(String, String, UInt64)] = [
            ("p50", "p50", histogram.valueAtPercentile(50)), ("p90", "p90", histogram.valueAtPercentile(90)),
            ("p99", "p99", histogram.valueAtPercentile(99)), ("p99_9", "p99.9", histogram.valueAtPercentile(99.9)),
            ("max", "max", histogram.max),
        ]
        self.fields.append((key + "_us", .object(points.map { ($0.0, .integer(Int($0.2))) } + [("samples", .integer(Int(histogram.totalCount)))])))
        self.rows.append((label, points.map { "\($0.1) \(Self.milliseconds($0.2))" }.joined(separator: "  ")))
    }

    private static func milliseconds(_ microseconds: UInt64) -> String {
        microseconds < 1000 ? "\(microseconds) µs" : String(format: "%.2f ms", Double(microseconds) / 1000)
    }

    /// The table to standard error, then the JSON line to standard output.
    func print() {
        let width = self.rows.map(\.0.count).max() ?? 0
        var table = ""
        for (label, value) in self.rows {
            table += "  " + label.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value + "\n"
        }
        FileHandle.standardError.write(Data(table.utf8))
        FileHandle.standardOutput.write(Data((JSONValue.object(self.fields).text + "\n").utf8))
    }
}

/// Progress lines on standard error while a run goes.
enum ProgressLog {
    static func line(_ mode: String, _ text: String) {
        FileHandle.standardError.write(Data("[\(mode)] \(text)\n".utf8))
    }
}

extension Int {
    /// 1234567 → "1,234,567".
    var grouped: String {
        let digits = String(self.magnitude)
        var out = ""
        for (offset, digit) in digits.enumerated() {
            if offset > 0 && (digits.count - offset) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return (self < 0 ? "-" : "") + out
    }
}

extension Double {
    /// The number with `digits` decimals.
    func fixed(_ digits: Int) -> String { String(format: "%.\(digits)f", self) }
}
