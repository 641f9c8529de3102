public import ChorusCore
public import CoreMetrics
public import Logging

extension EventBus {
    /// The bus of `hub`, with the options of the hub's configuration (`events_*`,
    /// `event_consumers`, `event_schemas`): consumers' bridges publish through the hub, handlers
    /// run what the app registers, webhooks go through `webhooks`, and the `event_publish`
    /// frames of the hub's clients come to it. ``ChorusServer`` makes its bus so; an application
    /// that mounts Chorus (docs/embedding.md) makes one so and runs it, after the hub and
    /// with `webhooks` before it, in its `ServiceGroup`.
    /// - Parameters:
    ///   - openStore: the durable store (`SQLiteEventStore`, `PostgresEventStore`), opened when the bus runs.
    ///   - liveNodes: how many nodes share the store (a partition share is `ceil(P / nodes)`).
    ///   - waitForStore: returns once the store can be used (PostgreSQL: migrated).
    public convenience init(
        hub: Hub,
        openStore: @escaping @Sendable () throws -> any EventStore,
        webhooks: WebhookClients,
        liveNodes: @escaping @Sendable () async -> Int = { 1 },
        waitForStore: @escaping @Sendable () async throws -> Void = {},
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger = Logger(label: "chorus.events")
    ) throws(ConfigurationError) {
        try self.init(
            options: EventConfiguration.options(hub.configuration),
            openStore: openStore,
            makeTarget: EventBus.targets(hub: hub, webhook: { consumer -> any EventTarget in
                WebhookTarget(consumer, clients: webhooks) ?? MissingWebhookClient()
            }),
            liveNodes: liveNodes,
            waitForStore: waitForStore,
            metricsFactory: metricsFactory,
            logger: logger
        )
        hub.eventBus.set(self)
    }
}
