/// Walks a command's arguments in order: `--name VALUE` options, flags and plain words.
struct ArgumentScanner {
    private var rest: ArraySlice<String>
    /// Appended to a missing value's error: the command's usage.
    private let usage: String

    init(_ arguments: [String], usage: String) {
        self.rest = arguments[...]
        self.usage = usage
    }

    /// The next argument; nil once all are read.
    mutating func next() -> String? {
        self.rest.popFirst()
    }

    /// The value that must follow option `name`.
    mutating func value(of name: String) throws -> String {
        guard let value = self.rest.popFirst() else { throw CommandError("\(name) needs a value\n\n\(self.usage)") }
        return value
    }

    /// The whole number that must follow option `name`, at least `minimum`: bad input is refused,
    /// never replaced by a default.
    mutating func number(of name: String, minimum: Int = 1) throws -> Int {
        let text = try self.value(of: name)
        guard let value = Int(text), value >= minimum else {
            throw CommandError("\(name) needs a whole number of at least \(minimum), not '\(text)'\n\n\(self.usage)")
        }
        return value
    }
}
