/// The `--name value` options of one `chorus bench` mode. Each mode reads the options it knows;
/// whatever is left is an error, and so is a value that does not parse, with a message that
/// names the option.
struct BenchArguments {
    private var values: [String: String] = [:]
    private var flags: Set<String> = []
    private var read: Set<String> = []
    let mode: String

    /// Options that take no value.
    static let flagNames: Set<String> = ["--no-subscribe", "--help", "-h"]

    init(mode: String, _ arguments: [String]) throws(BenchError) {
        self.mode = mode
        var index = 0
        while index < arguments.count {
            var name = arguments[index]
            var inlineValue: String?
            if let equals = name.firstIndex(of: "="), name.hasPrefix("--") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard name.hasPrefix("-") else {
                throw BenchError("chorus bench \(mode): unexpected argument '\(name)' (options are --name value)")
            }
            if Self.flagNames.contains(name) {
                self.flags.insert(name)
                index += 1
                continue
            }
            if let inlineValue {
                self.values[name] = inlineValue
                index += 1
                continue
            }
            guard index + 1 < arguments.count else {
                throw BenchError("chorus bench \(mode): \(name) needs a value")
            }
            self.values[name] = arguments[index + 1]
            index += 2
        }
    }

    var wantsHelp: Bool { self.flags.contains("--help") || self.flags.contains("-h") }

    mutating func flag(_ name: String) -> Bool {
        self.read.insert(name)
        return self.flags.contains(name)
    }

    mutating func string(_ names: String..., default value: String? = nil) -> String? {
        names.forEach { self.read.insert($0) }
        let values = self.values
        return names.lazy.compactMap { values[$0] }.first ?? value
    }

    mutating func integer(_ name: String, default value: Int, in range: ClosedRange<Int> = 1...Int.max) throws(BenchError) -> Int {
        guard let text = self.string(name) else { return value }
        guard let number = Int(text.replacingUnderscores), range.contains(number) else {
            let bounds = range.upperBound == .max ? "of at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
            throw BenchError("\(name): '\(text)' is not a whole number \(bounds)")
        }
        return number
    }

    mutating func number(_ name: String, default value: Double, minimum: Double = 0) throws(BenchError) -> Double {
        guard let text = self.string(name) else { return value }
        guard let number = Double(text.replacingUnderscores), number >= minimum, number.isFinite else {
            throw BenchError("\(name): '\(text)' is not a number of at least \(minimum)")
        }
        return number
    }

    /// A duration: `500ms`, `10s`, `2m`, or a plain number of seconds.
    mutating func seconds(_ name: String, default value: Double) throws(BenchError) -> Double {
        guard let text = self.string(name) else { return value }
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let number = Double(text.dropLast(suffix.count)), number >= 0 { return number * scale }
        }
        if let number = Double(text), number >= 0 { return number }
        throw BenchError("\(name): '\(text)' is not a duration (e.g. 500ms, 10s, 2m)")
    }

    mutating func choice<Choice: RawRepresentable & CaseIterable>(_ names: String..., default value: Choice) throws(BenchError) -> Choice
    where Choice.RawValue == String {
        names.forEach { self.read.insert($0) }
        let values = self.values
        guard let text = names.lazy.compactMap({ values[$0] }).first else { return value }
        guard let choice = Choice(rawValue: text) else {
            throw BenchError("\(names[0]): '\(text)' is not one of \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return choice
    }

    /// Fails on any option the mode did not read.
    func finish() throws(BenchError) {
        let unknown = Set(self.values.keys).union(self.flags.subtracting(["--help", "-h"])).subtracting(self.read)
        if let name = unknown.sorted().first {
            throw BenchError("chorus bench \(self.mode): unknown option \(name) (see chorus bench \(self.mode) --help)")
        }
    }
}

extension String {
    fileprivate var replacingUnderscores: String { self.filter { $0 != "_" && $0 != "," } }
}
