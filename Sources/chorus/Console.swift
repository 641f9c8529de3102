import Foundation

enum Console {
    /// Prints `chorus: message` to standard error and exits with status 2.
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("chorus: \(message)\n".utf8))
        exit(2)
    }

    static func environment() -> [String: String] {
        ProcessInfo.processInfo.environment
    }
}

struct CommandError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
