import Foundation

package enum WallClock {
    /// Milliseconds since the Unix epoch.
    package static func milliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// Microseconds since the Unix epoch.
    package static func microseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000_000).rounded(.down))
    }
}
