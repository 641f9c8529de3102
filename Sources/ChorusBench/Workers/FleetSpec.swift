/// A share of a run's subscribers, held by one process: which indices, where they connect, and
/// how they read. Subscriber `i` takes topic `i % topics` and URL `i % endpoints.count` (the
/// nodes of a cluster); subscribers below `probes` parse every delivery (so probes spread over
/// the topics and the nodes).
public struct FleetSpec: Codable, Sendable {
    public var endpoints: [EndpointTemplate]
    public var serverProtocol: ServerProtocol
    public var token: String?
    public var firstIndex: Int
    public var count: Int
    public var topics: Int
    public var topicPrefix: String
    public var probes: Int
    public var subscribes: Bool
    public var sources: SourceAddresses
    public var threads: Int
    public var connectConcurrency: Int
    /// How often subscribers that only count read their sockets, in milliseconds (0: on every wakeup).
    public var drainIntervalMilliseconds: Int
    public var connectTimeoutMilliseconds: Int
    /// What each subscriber joins; presence members that are not probes stamp their join.
    public var subscription: Subscription = .topic
    /// The `limit` of each presence join: the members its `presence_state` lists (nil: all of them).
    public var presenceStateLimit: Int? = nil

    static func topic(prefix: String, index: Int) -> String { "\(prefix)\(index)" }

    /// The subscribers `first..<first + count` of the same run (a mode that opens them in phases).
    func share(from first: Int, count: Int) -> FleetSpec {
        var share = self
        share.firstIndex = first
        share.count = count
        return share
    }

    /// Where subscriber `index` connects.
    func endpointIndex(of index: Int) -> Int { index % self.endpoints.count }

    func role(of index: Int) -> SubscriberRole {
        let topicIndex = index % self.topics
        let probe = index < self.probes
        return SubscriberRole(
            topicIndex: topicIndex, topic: Self.topic(prefix: self.topicPrefix, index: topicIndex), subscribes: self.subscribes,
            probe: probe, lazy: !probe && self.drainIntervalMilliseconds > 0, closeWhenSubscribed: false,
            subscription: self.subscription, joinStampSource: self.subscription == .presence && !probe ? index : nil,
            presenceStateLimit: self.presenceStateLimit
        )
    }
}

/// One line a worker process writes to its parent: exactly one of the fields is set.
struct WorkerLine: Codable, Sendable {
    struct Ready: Codable, Sendable {
        var connected: Int
        var failed: Int
        var seconds: Double
        var errors: ErrorCounts
    }

    struct Progress: Codable, Sendable {
        var deliveries: Int
        var closedByServer: Int
        /// Stamps the probes read so far (a presence probe reads one per member that joined).
        var stamped = 0
    }

    struct Final: Codable, Sendable {
        var tally: TallySnapshot
        /// CPU seconds the worker used between `start` and `stop`.
        var windowCPUSeconds: Double
        var totalCPUSeconds: Double
    }

    var ready: Ready?
    var progress: Progress?
    var final: Final?
}
