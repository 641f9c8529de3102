import AsyncHTTPClient
public import ChorusCore
import ChorusPush
import ChorusSQLite
import Foundation
public import Logging
public import NIOCore
import NIOHTTP1
public import ServiceLifecycle

/// Web Push from the hub (docs/pwa.md, "Web Push"): the subscriptions users register, and the
/// deliveries to their push services, encrypted (RFC 8291) and signed (RFC 8292).
///
/// A `Service`: ``run()`` hands queued messages to push services, a bounded number at once,
/// retrying 429, 5xx and failed connections with backoff (honouring `Retry-After`), and
/// forgetting subscriptions whose push service answers 404 or 410. Sending only queues: no
/// publish or API call waits for a push service.
public final class PushService: Service, Sendable {
    /// Deliveries in flight at once.
    static let concurrency = 16
    /// Messages waiting for delivery; past it new ones are dropped (counted as failed).
    static let queueLimit = 10_000
    /// How long one request to a push service may take.
    static let requestTimeout: TimeAmount = .seconds(30)
    /// How long a VAPID token lives (RFC 8292 allows at most 24 hours).
    static let tokenLifetime: Int64 = 12 * 3600

    /// Where subscriptions are kept.
    public let store: any PushSubscriptionStore
    /// The public key browsers subscribe with (`applicationServerKey`).
    public let publicKey: String
    let signer: VAPIDSigner
    let policy: PushRetryPolicy
    let allowLoopbackHTTP: Bool
    let maxSubscriptionsPerUser: Int
    private let eventLoopGroup: any EventLoopGroup
    private let work: AsyncStream<Work>
    private let queue: AsyncStream<Work>.Continuation
    private let metrics: HubMetrics
    private let logger: Logger

    /// One message for one subscription.
    struct Job: Sendable {
        var subscription: PushSubscription
        var payload: [UInt8]
        var options: PushOptions
    }

    /// What ``run()`` takes from its queue.
    enum Work: Sendable {
        case deliver(Job)
        /// A message to a `push: true` namespace: for its topic's subscriptions whose users are
        /// not among the connected ones (`connected` picks those out of the users it is given).
        case fanOut(MessageEnvelope, connected: @Sendable (Set<String>) async throws -> Set<String>)
    }

    /// What became of one message, as `chorus_push_deliveries_total` counts it.
    enum Outcome: String, CaseIterable, Sendable {
        case delivered, retried, removed, failed
    }

    /// The service `configuration` describes, or nil when it has no VAPID private key (Web Push off).
    ///
    /// - Parameter store: where subscriptions are kept (nil: `push.sqlite` in `data_dir` with the
    ///   `sqlite` store, memory otherwise).
    public static func make(
        configuration: HubConfiguration,
        store: (any PushSubscriptionStore)? = nil,
        eventLoopGroup: any EventLoopGroup,
        metrics: HubMetrics,
        logger: Logger = Logger(label: "chorus")
    ) throws(ConfigurationError) -> PushService? {
        guard let privateKey = configuration.pushVAPIDPrivateKey else {
            if configuration.pushVAPIDPublicKey != nil {
                throw ConfigurationError("push_vapid_public_key is set without push_vapid_private_key")
            }
            if let name = configuration.namespaces.filter(\.value.push).keys.sorted().first {
                throw ConfigurationError("namespace '\(name)' has push: true, but Web Push is not configured (push_vapid_private_key, push_vapid_subject)")
            }
            return nil
        }
        let signer: VAPIDSigner
        do throws(WebPushError) {
            let keys = try VAPIDKeys(privateKey: privateKey, publicKey: configuration.pushVAPIDPublicKey)
            guard let subject = configuration.pushVAPIDSubject else {
                throw WebPushError("push_vapid_subject is required with push_vapid_private_key (a mailto: or https: contact)")
            }
            signer = try VAPIDSigner(keys: keys, subject: subject)
        } catch {
            throw ConfigurationError(error.description)
        }
        let opened: any PushSubscriptionStore
        if let store { opened = store } else { opened = try Self.openStore(configuration) }
        return PushService(
            store: opened, signer: signer, policy: PushRetryPolicy(maxAttempts: configuration.pushMaxAttempts),
            allowLoopbackHTTP: configuration.pushAllowLoopbackHTTP, maxSubscriptionsPerUser: configuration.pushMaxSubscriptionsPerUser,
            eventLoopGroup: eventLoopGroup, metrics: metrics, logger: logger)
    }

    private static func openStore(_ configuration: HubConfiguration) throws(ConfigurationError) -> any PushSubscriptionStore {
        switch configuration.store {
        case .memory:
            return MemoryPushSubscriptionStore()
        case .sqlite:
            do throws(StoreError) {
                return try SQLitePushSubscriptionStore(path: configuration.dataDirectory + "/push.sqlite")
            } catch {
                throw ConfigurationError(error.message)
            }
        }
    }

    init(
        store: any PushSubscriptionStore, signer: VAPIDSigner, policy: PushRetryPolicy, allowLoopbackHTTP: Bool,
        maxSubscriptionsPerUser: Int, eventLoopGroup: any EventLoopGroup, metrics: HubMetrics, logger: Logger
    ) {
        self.store = store
        self.signer = signer
        self.publicKey = signer.keys.publicKeyText
        self.policy = policy
        self.allowLoopbackHTTP = allowLoopbackHTTP
        self.maxSubscriptionsPerUser = maxSubscriptionsPerUser
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
        (self.work, self.queue) = AsyncStream.makeStream(of: Work.self, bufferingPolicy: .bufferingOldest(Self.queueLimit))
        self.metrics = metrics
    }

    /// Queues `payload` for each of `subscriptions`; returns how many were queued.
    @discardableResult
    func enqueue(_ payload: [UInt8], to subscriptions: [PushSubscription], options: PushOptions) -> Int {
        for subscription in subscriptions {
            self.yield(.deliver(Job(subscription: subscription, payload: payload, options: options)))
        }
        return subscriptions.count
    }

    private func yield(_ work: Work) {
        if case .dropped = self.queue.yield(work) {
            self.metrics.pushDelivery(.failed)
            self.logger.warning("push queue full: a message was dropped", metadata: ["limit": "\(Self.queueLimit)"])
        }
    }

    /// Queues a message of a `push: true` namespace; `connected` says which of the subscribed
    /// users have a connection open when its turn comes.
    func enqueue(message envelope: MessageEnvelope, connected: @escaping @Sendable (Set<String>) async throws -> Set<String>) {
        self.yield(.fanOut(envelope, connected: connected))
    }

    /// The subscriptions of the users not connected that opted `envelope`'s topic in.
    func fanOut(_ envelope: MessageEnvelope, connected: @Sendable (Set<String>) async throws -> Set<String>) async {
        do {
            let subscriptions = try await self.store.subscriptions(forTopic: envelope.topic)
            guard !subscriptions.isEmpty else { return }
            let online = try await connected(Set(subscriptions.map(\.user)))
            let offline = subscriptions.filter { !online.contains($0.user) }
            let payload = PushPayload(message: envelope).encoded(limit: WebPushEncryption.maxPlaintextSize)
            self.enqueue(payload, to: offline, options: PushOptions())
        } catch {
            self.logger.warning("push for a topic message failed", metadata: ["topic": "\(envelope.topic)", "error": "\(error)"])
        }
    }

    /// Delivers queued messages until graceful shutdown; what is still queued then is dropped
    /// (push services keep nothing for the hub either: a notification is best effort).
    public func run() async throws {
        // Made here, not in init: a client must be shut down, and only a running service can.
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(10), read: Self.requestTimeout)
        let client = HTTPClient(eventLoopGroup: self.eventLoopGroup, configuration: configuration)
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for await work in self.work.cancelOnGracefulShutdown() {
                if inFlight == Self.concurrency {
                    await group.next()
                    inFlight -= 1
                }
                switch work {
                case .deliver(let job): group.addTask { await self.deliver(job, with: client) }
                case .fanOut(let envelope, let connected): group.addTask { await self.fanOut(envelope, connected: connected) }
                }
                inFlight += 1
            }
            group.cancelAll()
        }
        try await client.shutdown()
    }

    /// Hands one message to its push service, with the policy's retries.
    func deliver(_ job: Job, with client: HTTPClient) async {
        let subscription = job.subscription
        let body: [UInt8]
        let audience: String
        do throws(WebPushError) {
            body = try WebPushEncryption.encrypt(job.payload, for: try WebPushSubscriberKeys(p256dh: subscription.p256dh, auth: subscription.auth))
            guard let origin = VAPIDSigner.audience(of: subscription.endpoint) else { throw WebPushError("the endpoint has no origin") }
            audience = origin
        } catch {
            self.finish(.failed, subscription, "cannot encrypt for the subscription: \(error)")
            return
        }
        var attempt = 1
        while !Task.isCancelled {
            var status: Int?
            var retryAfter: Int?
            do {
                let expiry = Int64(Date().timeIntervalSince1970) + Self.tokenLifetime
                var request = HTTPClientRequest(url: subscription.endpoint)
                request.method = .POST
                for header in job.options.headers { request.headers.add(name: header.name, value: header.value) }
                request.headers.add(name: "Authorization", value: try self.signer.authorization(audience: audience, expiresAt: expiry))
                request.body = .bytes(ByteBuffer(bytes: body))
                let response = try await client.execute(request, timeout: Self.requestTimeout)
                status = Int(response.status.code)
                retryAfter = response.headers.first(name: "Retry-After").flatMap(Self.retryAfterSeconds)
                _ = try? await response.body.collect(upTo: 64 << 10)
            } catch {
                self.logger.debug("push request failed", metadata: ["subscription": "\(subscription.id)", "error": "\(error)"])
            }
            switch self.policy.decide(status: status, retryAfterSeconds: retryAfter, attempt: attempt) {
            case .delivered:
                self.finish(.delivered, subscription, nil)
                return
            case .gone:
                _ = try? await self.store.remove(id: subscription.id, user: nil)
                self.finish(.removed, subscription, "the push service answered \(status ?? 0): subscription removed")
                return
            case .retry(let delay):
                self.metrics.pushDelivery(.retried)
                attempt += 1
                try? await Task.sleep(for: delay)
            case .failed(let status):
                self.finish(.failed, subscription, "the push service refused the message (\(status.map(String.init) ?? "no answer") after \(attempt) attempts)")
                return
            }
        }
    }

    private func finish(_ outcome: Outcome, _ subscription: PushSubscription, _ note: String?) {
        self.metrics.pushDelivery(outcome)
        if let note {
            self.logger.log(
                level: outcome == .failed ? .warning : .info, "\(note)",
                metadata: ["subscription": "\(subscription.id)", "user": "\(subscription.user)"])
        }
    }

    /// `Retry-After` as whole seconds from now (rounded up), read by ``RetryAfter``.
    static func retryAfterSeconds(_ value: String) -> Int? {
        RetryAfter.delay(parsing: value, now: WallClock.milliseconds()).map { delay in
            let milliseconds = delay.milliseconds
            return Int(milliseconds / 1000 + (milliseconds % 1000 == 0 ? 0 : 1))
        }
    }
}

extension PushService: CustomStringConvertible {
    /// Its name, never its keys.
    public var description: String { "PushService" }
}
