/// `chorus bench connections | fanout | echo | churn | floor | events | presence | sync` (and `worker`, which a run starts itself).
public enum BenchCommand {
    public static let modes = ["connections", "fanout", "echo", "churn", "floor", "events", "presence", "sync"]

    public static let overview = """
        chorus bench MODE [options]: load generator for Chorus and other pub/sub servers (Nchan)
          connections   open N idle connections; connect rate, server memory per connection
          fanout        N subscribers over T topics, HTTP publishers; deliveries/s, latency, loss
          echo          round trips per second over M WebSocket connections
          churn         connect + subscribe + disconnect cycles per second
          floor         the kernel's own cost of one small write per loopback connection (no server)
          history       durable publishes/s through the hub's commit path, in process
          client        the Swift client (ChorusClient): publish and receive rates, memory per client, recovery after a hub restart
          events        durable acknowledged event publishes/s, to a hub's event bus or NATS JetStream
          presence      a room of N members: join → seen latency, join rate, presence frames, memory; signal round trips
          sync          acknowledged sync mutations/s, mutation → subscriber latency, snapshot time and bytes
        Each mode prints progress and a table to stderr, and one JSON line to stdout.
        'chorus bench MODE --help' lists its options.
        """

    /// Runs `mode` with `arguments`. `workerArguments` are what the chorus executable needs
    /// to run as a worker of this run (the parent re-executes itself with them).
    public static func run(mode: String, _ arguments: [String], workerArguments: [String]) async throws(BenchError) {
        var parsed = try BenchArguments(mode: mode, arguments)
        let usage: String
        switch mode {
        case "connections": usage = ConnectionsMode.usage
        case "fanout": usage = FanoutMode.usage
        case "echo": usage = EchoMode.usage
        case "churn": usage = ChurnMode.usage
        case "floor": usage = FloorMode.usage
        case "events": usage = EventsMode.usage
        case "presence": usage = PresenceMode.usage
        case "sync": usage = SyncMode.usage
        default: throw BenchError("unknown bench mode '\(mode)'\n\n\(Self.overview)")
        }
        if parsed.wantsHelp {
            print(usage)
            return
        }
        do {
            let result: BenchResult
            switch mode {
            case "connections": result = try await ConnectionsMode.run(&parsed, workerArguments: workerArguments)
            case "fanout": result = try await FanoutMode.run(&parsed, workerArguments: workerArguments)
            case "echo": result = try await EchoMode.run(&parsed)
            case "floor": result = try FloorMode.run(&parsed)
            case "events": result = try await EventsMode.run(&parsed)
            case "presence": result = try await PresenceMode.run(&parsed, workerArguments: workerArguments)
            case "sync": result = try await SyncMode.run(&parsed, workerArguments: workerArguments)
            default: result = try await ChurnMode.run(&parsed)
            }
            result.print()
        } catch let error as BenchError {
            throw error
        } catch {
            throw BenchError("\(mode): \(error)")
        }
    }
}
