import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// `chorus bench floor`: what the kernel alone costs for a fan-out on this machine. One thread
/// writes one small message with `write(2)` to each of N loopback TCP connections, as a server
/// written in C with nothing else to do would, and reports the time per write. No server is
/// involved: the figure is the floor under any server's delivery cost and fan-out latency here,
/// because on loopback the sender's write also pays the receiving socket's TCP processing.
enum FloorMode {
    static let usage = """
        Usage: chorus bench floor [options]
          --connections 2500      loopback TCP connections, each written once per round
          --rounds 20             rounds; between two, every connection is read empty
          --payload-size 100      bytes of each write
        """

    static func run(_ arguments: inout BenchArguments) throws -> BenchResult {
        // Both ends of every connection live in this process: 2 descriptors per connection.
        let connections = try arguments.integer("--connections", default: 2500, in: 1...9_000)
        let rounds = try arguments.integer("--rounds", default: 20, in: 1...10_000)
        let payloadSize = try arguments.integer("--payload-size", default: 100, in: 1...65_536)
        try arguments.finish()

        let pairs = try LoopbackPairs(count: connections)
        defer { pairs.close() }
        ProgressLog.line("floor", "\(connections) loopback connections, \(rounds) rounds of one \(payloadSize)-byte write each")
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: payloadSize)
        var sink = [UInt8](repeating: 0, count: 65_536)
        var roundNanoseconds: [UInt64] = []
        let cpuBefore = ResourceUsage.cpuSeconds()
        for _ in 0..<rounds {
            let started = NIODeadline.now().uptimeNanoseconds
            for descriptor in pairs.senders {
                let written = payload.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                guard written == payloadSize else { throw BenchError("floor: a write to a loopback connection failed (errno \(errno))") }
            }
            roundNanoseconds.append(NIODeadline.now().uptimeNanoseconds - started)
            for descriptor in pairs.receivers {
                _ = sink.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            }
            // Let the receivers' acknowledgements and timers settle, as between two messages.
            usleep(20_000)
        }
        let cpuSeconds = ResourceUsage.cpuSeconds() - cpuBefore
        roundNanoseconds.sort()
        let median = Double(roundNanoseconds[roundNanoseconds.count / 2])
        let best = Double(roundNanoseconds[0])

        var result = BenchResult(mode: "floor")
        result.add("connections", integer: connections, "connections")
        result.add("rounds", integer: rounds, "rounds")
        result.add("payload_size", integer: payloadSize, "bytes per write")
        result.add("round_ms_p50", number: median / 1e6, "one write to every connection (median round)", unit: " ms")
        result.add("round_ms_min", number: best / 1e6, "one write to every connection (best round)", unit: " ms")
        result.add("write_us_p50", number: median / 1e3 / Double(connections), "time per write (median round)", digits: 3, unit: " µs")
        result.add("write_us_min", number: best / 1e3 / Double(connections), "time per write (best round)", digits: 3, unit: " µs")
        result.add("cpu_seconds", number: cpuSeconds, "CPU of the whole run (writes, reads, waits)", digits: 2, unit: " s")
        return result
    }
}

/// N connected loopback TCP socket pairs: the accepted ends send (TCP_NODELAY, as servers
/// set it), the connecting ends receive and are non-blocking so draining them never waits.
private struct LoopbackPairs {
    var senders: [Int32] = []
    var receivers: [Int32] = []

    init(count: Int) throws(BenchError) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw BenchError("floor: socket() failed (errno \(errno))") }
        defer { Glibc.close(listener) }
        let bound = try? SocketAddress(ipAddress: "127.0.0.1", port: 0).withSockAddr { address, size in
            bind(listener, address, socklen_t(size)) == 0 && listen(listener, 4096) == 0
        }
        // The port the kernel picked, kept as the raw address that connect() takes.
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) == 0 }
        }
        guard bound == true, named else { throw BenchError("floor: cannot listen on 127.0.0.1 (errno \(errno))") }
        for _ in 0..<count {
            let receiver = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(receiver, $0, length) == 0 }
            }
            let sender = connected ? accept(listener, nil, nil) : -1
            guard receiver >= 0, sender >= 0 else {
                let failure = errno
                if receiver >= 0 { Glibc.close(receiver) }
                self.close()
                throw BenchError("floor: opening loopback connection \(self.senders.count + 1) failed (errno \(failure)); is the open-file limit below twice --connections?")
            }
            var one: Int32 = 1
            setsockopt(sender, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            _ = fcntl(receiver, F_SETFL, fcntl(receiver, F_GETFL) | O_NONBLOCK)
            self.senders.append(sender)
            self.receivers.append(receiver)
        }
    }

    func close() {
        for descriptor in self.senders + self.receivers {
            Glibc.close(descriptor)
        }
    }
}
