/// Which of a consumer's partitions an event belongs to: stable across processes, machines and
/// releases (FNV-1a of the key's UTF-8, not Swift's seeded `Hasher`), so every node agrees.
public enum EventPartition {
    /// The partition of an event with `key` (nil: no key, spread by `sequence`) among `count`.
    public static func of(key: String?, sequence: Int64, count: Int) -> Int {
        guard count > 1 else { return 0 }
        guard let key else { return Int(UInt64(bitPattern: sequence) % UInt64(count)) }
        return Int(Self.fnv1a(key) % UInt64(count))
    }

    /// 64-bit FNV-1a.
    public static func fnv1a(_ key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }
}
