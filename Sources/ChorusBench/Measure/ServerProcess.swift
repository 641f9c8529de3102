import Foundation

/// The server under test, read from /proc: resident memory and CPU time of its processes and
/// their children (an nginx master's workers are its children, so one pid covers a whole Nchan;
/// a cluster is its hub processes and its Redis, summed).
public struct ServerProcess: Sendable {
    public let pids: [Int32]

    public init(pids: [Int32]) throws(BenchError) {
        for pid in pids where !FileManager.default.fileExists(atPath: "/proc/\(pid)/stat") {
            throw BenchError("--server-pid \(pid): no such process")
        }
        self.pids = pids
    }

    /// The processes and their children, now.
    public func processIDs() -> [Int32] {
        var ids: [Int32] = []
        for pid in self.pids {
            ids.append(pid)
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            for task in tasks {
                let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
                ids += children.split(separator: " ").compactMap { Int32($0) }
            }
        }
        return ids
    }

    /// VmRSS summed over the processes and their children, in KiB.
    public func residentKiB() -> Int {
        self.processIDs().reduce(0) { total, id in
            let status = (try? String(contentsOfFile: "/proc/\(id)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            return total + (line?.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0)
        }
    }

    /// User + system CPU seconds summed over the processes and their children.
    public func cpuSeconds() -> Double {
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        return self.processIDs().reduce(0.0) { total, id in
            guard let stat = try? String(contentsOfFile: "/proc/\(id)/stat", encoding: .utf8),
                let end = stat.range(of: ")", options: .backwards)
            else { return total }
            // After "pid (comm)": state is field 3, utime field 14, stime field 15.
            let fields = stat[end.upperBound...].split(separator: " ")
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return total }
            return total + (user + system) / ticksPerSecond
        }
    }
}
