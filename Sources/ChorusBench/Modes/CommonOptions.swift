import NIOCore

/// Options every mode takes.
struct CommonOptions {
    var serverProtocol: ServerProtocol
    var credentials: Credentials
    var server: ServerProcess?
    var threads: Int
    var sources: SourceAddresses
    var connectConcurrency: Int
    var connectTimeout: Double
    var duration: Double
    var topicPrefix: String
    var payloadSize: Int

    static let usage = """
          --server chorus|nchan   how subscribing, publishing and payloads work (default chorus; alias --protocol)
          --duration 10s          how long the measured part runs
          --server-pid PID[,PID…] the server's processes (their children count too): memory and CPU
                                  from /proc, summed (a cluster: every hub process and Redis)
          --token JWT             client token for subscriber connections (Authorization: Bearer)
          --api-key KEY           API key for HTTP publishes (Authorization: Bearer)
          --threads 1             event loop threads of the generator (per process)
          --source-addresses 16   bind client sockets to 127.0.0.2, 127.0.0.3, … (this many)
          --connect-concurrency 256   connection attempts in flight
          --connect-timeout 10s   per connection, until subscribed
          --topic-prefix bench-   topics are PREFIX0, PREFIX1, …
          --payload-size 100      bytes of each published or echoed payload (with its stamp)
        """

    init(_ arguments: inout BenchArguments, defaultDuration: Double, defaultTopicPrefix: String = "bench-") throws(BenchError) {
        self.serverProtocol = try arguments.choice("--server", "--protocol", default: ServerProtocol.chorus)
        self.credentials = Credentials(token: arguments.string("--token"), apiKey: arguments.string("--api-key"))
        if let list = arguments.string("--server-pid") {
            var pids: [Int32] = []
            for pid in list.split(separator: ",", omittingEmptySubsequences: false) {
                guard let number = Int32(pid), number > 0 else { throw BenchError("--server-pid: '\(pid)' is not a process id") }
                pids.append(number)
            }
            self.server = try ServerProcess(pids: pids)
        }
        self.threads = try arguments.integer("--threads", default: 1, in: 1...64)
        self.sources = SourceAddresses(count: try arguments.integer("--source-addresses", default: 16, in: 1...250))
        self.connectConcurrency = try arguments.integer("--connect-concurrency", default: 256, in: 1...100_000)
        self.connectTimeout = try arguments.seconds("--connect-timeout", default: 10)
        self.duration = try arguments.seconds("--duration", default: defaultDuration)
        self.topicPrefix = arguments.string("--topic-prefix", default: defaultTopicPrefix)!
        self.payloadSize = try arguments.integer("--payload-size", default: 100, in: 1...1_000_000)
        guard self.topicPrefix.allSatisfy({ $0.isLetter || $0.isNumber || "-_:@=.".contains($0) }) else {
            throw BenchError("--topic-prefix: '\(self.topicPrefix)' has characters a topic cannot hold")
        }
    }

    /// Subscriber URLs (a comma-separated list: the nodes of a cluster, subscriber `i` takes the
    /// URL `i % count`), checked against the protocol: Nchan and event streams need `{topic}`.
    func subscriberEndpoints(_ text: String, subscribes: Bool) throws(BenchError) -> [EndpointTemplate] {
        let endpoints = try EndpointTemplate.list(text)
        for endpoint in endpoints where subscribes && !endpoint.hasTopic && (self.serverProtocol == .nchan || endpoint.scheme == .http) {
            throw BenchError("'\(text)' has no {topic}: \(self.serverProtocol == .nchan ? "Nchan subscribes by URL, e.g. ws://127.0.0.1:8081/sub/{topic}" : "an event stream subscribes by URL, e.g. http://127.0.0.1:8080/sse?topic={topic}")")
        }
        return endpoints
    }

    func connector(for endpoint: EndpointTemplate) throws -> Connector {
        try Connector(
            endpoint: endpoint, serverProtocol: self.serverProtocol, token: self.credentials.token, sources: self.sources,
            connectTimeout: .milliseconds(Int64(self.connectTimeout * 1000)), openTimeout: .milliseconds(Int64(self.connectTimeout * 1000))
        )
    }

    /// All the subscribers of a run, to be shared out over worker processes.
    func fleet(
        endpoints: [EndpointTemplate], count: Int, topics: Int, probes: Int, subscribes: Bool, drainInterval: Double,
        subscription: Subscription = .topic
    ) -> FleetSpec {
        FleetSpec(
            endpoints: endpoints, serverProtocol: self.serverProtocol, token: self.credentials.token, firstIndex: 0, count: count,
            topics: topics, topicPrefix: self.topicPrefix, probes: probes, subscribes: subscribes, sources: self.sources,
            threads: self.threads, connectConcurrency: self.connectConcurrency,
            drainIntervalMilliseconds: Int(drainInterval * 1000), connectTimeoutMilliseconds: Int(self.connectTimeout * 1000),
            subscription: subscription
        )
    }

    /// The default subscriber URL of each protocol.
    var defaultSubscribeURL: String {
        self.serverProtocol == .chorus ? "ws://127.0.0.1:8080/ws" : "ws://127.0.0.1:8081/sub/{topic}"
    }
}

/// CPU of the generator and the server over a measured window.
struct CPUWindow {
    private let generatorStart = ResourceUsage.cpuSeconds()
    private let serverStart: Double?
    private let started = NIODeadline.now()
    private let server: ServerProcess?

    init(server: ServerProcess?) {
        self.server = server
        self.serverStart = server?.cpuSeconds()
    }

    var seconds: Double { Double((NIODeadline.now() - self.started).nanoseconds) / 1e9 }
    var generatorSeconds: Double { ResourceUsage.cpuSeconds() - self.generatorStart }
    var serverSeconds: Double? { self.serverStart.map { self.server!.cpuSeconds() - $0 } }
}

extension BenchResult {
    /// Generator CPU over the window (this process plus its workers) and in all.
    mutating func addGeneratorCPU(window: Double, windowSeconds: Double, total: Double) {
        self.add("generator_cpu_seconds", number: window, "generator CPU (measured window)", unit: " s")
        self.add("generator_cpu_cores", number: windowSeconds > 0 ? window / windowSeconds : 0, "generator CPU, cores busy", unit: " cores")
        self.add("generator_cpu_seconds_total", number: total, "generator CPU (whole run, with connecting)", unit: " s")
    }

    /// Server CPU over the window and, given the work done in it (`plural`/`singular` name it:
    /// deliveries/delivery), the work per server CPU-second and the CPU per unit of work.
    mutating func addServerCPU(_ seconds: Double?, windowSeconds: Double, work: Int = 0, plural: String = "", singular: String = "") {
        guard let seconds else { return }
        self.add("server_cpu_seconds", number: seconds, "server CPU (measured window)", unit: " s")
        self.add("server_cpu_cores", number: windowSeconds > 0 ? seconds / windowSeconds : 0, "server CPU, cores busy", unit: " cores")
        guard work > 0, seconds > 0 else { return }
        self.add("\(plural)_per_server_cpu_second", integer: Int(Double(work) / seconds), "\(plural.replacing("_", with: " ")) per server CPU-second")
        self.add("server_cpu_us_per_\(singular)", number: seconds / Double(work) * 1e6, "server CPU per \(singular.replacing("_", with: " "))", digits: 3, unit: " µs")
    }
}

extension CommonOptions {
    /// The modes of Chorus's own features (presence, sync) speak its WebSocket protocol only.
    func requireChorusWebSockets(_ endpoints: [EndpointTemplate], mode: String) throws(BenchError) {
        guard self.serverProtocol == .chorus, endpoints.allSatisfy({ $0.scheme == .ws }) else {
            throw BenchError("chorus bench \(mode) measures a Chorus hub over WebSocket: give ws://HOST:PORT/ws")
        }
    }
}
