import Foundation

enum Console {
    /// Prints `chorus: message` to standard error and exits with status 2.
    static func fail(_ message: String, exitCode: Int32 = 2) -> Never {
        FileHandle.standardError.write(Data("chorus: \(message)\n".utf8))
        exit(exitCode)
    }

    static func environment() -> [String: String] {
        ProcessInfo.processInfo.environment
    }
}

struct CommandError: Error {
    let message: String
    /// 2: the command was given wrong (the default); 1: it ran and failed (the hub said no).
    let exitCode: Int32
    init(_ message: String, exitCode: Int32 = 2) {
        self.message = message
        self.exitCode = exitCode
    }
}
