#if canImport(Glibc)
import Glibc
#endif

/// CPU seconds (user + system) this process has used, from getrusage: what the generator itself
/// costs, reported next to every figure so that a run whose generator was the bottleneck shows it.
public enum ResourceUsage {
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Self.seconds(usage.ru_utime) + Self.seconds(usage.ru_stime)
    }

    private static func seconds(_ time: timeval) -> Double {
        Double(time.tv_sec) + Double(time.tv_usec) / 1e6
    }

    /// Open files allowed per process (the soft limit): how many sockets one process may hold.
    public static func openFileLimit() -> Int {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(clamping: limit.rlim_cur)
    }
}
