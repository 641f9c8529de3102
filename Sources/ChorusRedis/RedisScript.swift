import Crypto

/// A Lua script with its SHA1, run by `EVALSHA` (``RedisClient/evaluate(_:keys:arguments:)``),
/// which falls back to `EVAL` when the server's script cache does not have it (`NOSCRIPT`:
/// a restarted server, `SCRIPT FLUSH`, a failover).
public struct RedisScript: Sendable, Hashable {
    /// The Lua source.
    public let source: String
    /// The SHA1 of the source, in lowercase hex, as Redis names scripts.
    public let sha1: String

    /// A script of `source`.
    public init(_ source: String) {
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// `EVALSHA` (or `EVAL` with the source when `bySource`) of the script with `keys` and `arguments`: to pipeline
    /// script calls in a batch (``RedisClient/evaluate(_:keys:arguments:)`` sends one).
    public func command(bySource: Bool, keys: [RESPArgument], arguments: [RESPArgument]) -> RESPCommand {
        RESPCommand(
            bySource ? "EVAL" : "EVALSHA",
            [.string(bySource ? self.source : self.sha1), .integer(keys.count)] + keys + arguments
        )
    }
}
