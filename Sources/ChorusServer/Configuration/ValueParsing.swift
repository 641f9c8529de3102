import Foundation

/// Parsers for the textual forms of configuration values (`30s`, `1MiB`, `true`).
enum ValueParsing {
    static func boolean(_ text: String) throws(ConfigurationError) -> Bool {
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError("'\(text)' is not true or false")
        }
    }

    /// `a, b,c` → `["a", "b", "c"]`: comma-separated, blanks dropped.
    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The longest duration any option takes: 100 years, far below where converting it to
    /// nanoseconds (NIO's `TimeAmount`) or adding it to a clock would overflow.
    static let maxDuration = Duration.seconds(100 * 365 * 86_400)
    /// ``maxDuration`` in seconds, for durations given as JSON numbers.
    static let maxDurationSeconds = Double(100 * 365 * 86_400)

    /// `500ms`, `30s`, `5m`, `1h`, or a plain number of seconds; at most ``maxDuration``.
    static func duration(_ text: String) throws(ConfigurationError) -> Duration {
        let units: [(suffix: String, milliseconds: Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var milliseconds: Double?
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            if let value = Double(trimmed.dropLast(unit.suffix.count)) {
                milliseconds = value * unit.milliseconds
                break
            }
        }
        if milliseconds == nil, let seconds = Double(trimmed) {
            milliseconds = seconds * 1000
        }
        guard let milliseconds, milliseconds >= 0, milliseconds.isFinite else {
            throw ConfigurationError("'\(text)' is not a duration such as 500ms, 30s, 5m or 1h")
        }
        let longest = Self.maxDuration.components.seconds * 1000
        guard milliseconds <= Double(longest) else {
            throw ConfigurationError("'\(text)' is longer than the longest duration allowed, \(longest / 3_600_000)h (100 years)")
        }
        return .milliseconds(Int64(milliseconds))
    }

    /// `1048576`, `64KiB`, `1MiB`, `1MB` (decimal), `2GiB`.
    static func size(_ text: String) throws(ConfigurationError) -> Int {
        let units: [(suffix: String, factor: Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1),
        ]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            if let value = Int(trimmed.dropLast(unit.suffix.count).trimmingCharacters(in: .whitespaces)), value > 0 {
                let (bytes, overflow) = value.multipliedReportingOverflow(by: unit.factor)
                guard !overflow else { throw ConfigurationError("'\(text)' is larger than any size this machine can count (\(Int.max) bytes)") }
                return bytes
            }
        }
        if let value = Int(trimmed), value > 0 { return value }
        throw ConfigurationError("'\(text)' is not a size such as 65536, 64KiB or 1MiB")
    }

    static func formatSize(_ bytes: Int) -> String {
        if bytes % (1 << 20) == 0 { return "\(bytes >> 20)MiB" }
        if bytes % (1 << 10) == 0 { return "\(bytes >> 10)KiB" }
        return String(bytes)
    }

    static func formatDuration(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds % 1000 != 0 { return "\(milliseconds)ms" }
        return "\(milliseconds / 1000)s"
    }
}

extension HubConfiguration {
    /// Parses a duration as configuration does (`500ms`, `30s`, `5m`, `1h`, or seconds).
    public static func parseDuration(_ text: String) throws(ConfigurationError) -> Duration {
        try ValueParsing.duration(text)
    }
}
