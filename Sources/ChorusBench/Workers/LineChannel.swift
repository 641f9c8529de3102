import Foundation
import Synchronization

/// Newline-delimited JSON between a parent and its worker processes, over pipes.
enum LineChannel {
    private static let writeLock = Mutex(())

    /// Writes `value` as one line of JSON to `handle` (whole lines, even from several threads).
    /// Throws when the other end has gone (a parent that was stopped), instead of trapping.
    static func send<Value: Encodable>(_ value: Value, to handle: FileHandle) throws {
        var data = try JSONEncoder().encode(value)
        data.append(UInt8(ascii: "\n"))
        try Self.writeLock.withLock { _ in try handle.write(contentsOf: data) }
    }

    /// Reads lines from `handle` on a thread of its own (a blocking read does not hold up any
    /// event loop or task) and calls `line` with each; `end` when the pipe closes.
    static func readLines(from handle: FileHandle, line: @escaping @Sendable (Data) -> Void, end: @escaping @Sendable () -> Void) {
        let thread = Thread {
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    line(pending[pending.startIndex..<newline])
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            end()
        }
        thread.start()
    }
}
