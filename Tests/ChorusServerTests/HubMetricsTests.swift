import ChorusCore
import CoreMetrics
import MetricsTestKit
import NIOCore
import NIOPosix
import Prometheus
import Testing

@testable import ChorusServer

/// The hub's metrics go through swift-metrics, into the factory the application chooses.
@Suite struct HubMetricsTests {
    @Test func aHubRecordsIntoTheFactoryItIsGiven() async throws {
        let factory = TestMetrics()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let configuration = HubConfiguration()
        let hub = try Hub(configuration: configuration, eventLoopGroup: group, authenticator: Authenticator(configuration: configuration), metricsFactory: factory)

        try hub.publish(topic: Topic("room:1"), event: nil, data: ByteBuffer(string: "1"))
        try hub.publish(topic: Topic("room:2"), event: nil, data: ByteBuffer(string: "2"))
        try await hub.updateCountedGauges()
        try await group.shutdownGracefully()

        #expect(try factory.expectCounter(HubMetricName.messagesPublished.rawValue).totalValue == 2)
        #expect(try factory.expectMeter(HubMetricName.topics.rawValue).lastValue == 0)
        #expect(try factory.expectMeter(HubMetricName.idempotencyKeys.rawValue).lastValue == 0)
        #expect(hub.metrics.totals().published == 2)
    }

    @Test func everyUpdateReachesItsMetricAndTheHubsOwnCounts() throws {
        let factory = TestMetrics()
        let metrics = HubMetrics(factory: factory)
        metrics.connectionOpened(.webSocket)
        metrics.connectionOpened(.webSocket)
        metrics.connectionOpened(.sse)
        metrics.connectionClosed(.webSocket)
        metrics.subscriptionAdded()
        metrics.delivered(count: 3, bytes: 120)
        metrics.delivered(count: 0, bytes: 0)
        metrics.error(.badRequest)
        metrics.limitRejected(.publishRatePerUser)
        metrics.committed(batchSize: 7)
        metrics.storeFailed()
        metrics.observeDeliveryLatency(since: .now())

        let websocket = [("transport", "websocket")]
        #expect(try factory.expectMeter(HubMetricName.connections.rawValue, websocket).lastValue == 1)
        #expect(try factory.expectMeter(HubMetricName.connections.rawValue, [("transport", "sse")]).lastValue == 1)
        #expect(try factory.expectCounter(HubMetricName.connectionsOpened.rawValue, websocket).totalValue == 2)
        #expect(try factory.expectMeter(HubMetricName.subscriptions.rawValue).lastValue == 1)
        #expect(try factory.expectCounter(HubMetricName.messagesDelivered.rawValue).totalValue == 3)
        #expect(try factory.expectCounter(HubMetricName.bytesOut.rawValue).totalValue == 120)
        #expect(try factory.expectCounter(HubMetricName.errors.rawValue, [("code", "bad_request")]).totalValue == 1)
        #expect(try factory.expectCounter(HubMetricName.errors.rawValue, [("code", "forbidden")]).totalValue == 0)
        #expect(try factory.expectCounter(HubMetricName.limitRejections.rawValue, [("limit", "publish_rate_per_user")]).totalValue == 1)
        #expect(try factory.expectRecorder(HubMetricName.storeCommitBatchSize.rawValue).values == [7])
        #expect(try factory.expectCounter(HubMetricName.storeFailures.rawValue).totalValue == 1)
        #expect(try factory.expectTimer(HubMetricName.deliveryLatency.rawValue).values.count == 1)

        // What the hub reads back comes from its own atomics, whatever the backend.
        #expect(metrics.connectionCount == 2)
        let totals = metrics.totals()
        #expect(totals.delivered == 3 && totals.bytesOut == 120)
        #expect(totals.errors["bad_request"] == 1 && totals.errors["forbidden"] == 0)
    }

    @Test func theHubCountsWithNoBackendBootstrapped() {
        let metrics = HubMetrics(factory: NOOPMetricsHandler.instance)
        metrics.connectionOpened(.sse)
        metrics.messagePublished()
        #expect(metrics.connectionCount == 1)
        #expect(metrics.totals().published == 1)
    }

    /// The Prometheus backend of the `chorus` executable: HELP text and buckets as before
    /// metrics went through swift-metrics; other labels as `PrometheusMetricsFactory` makes them.
    @Test func thePrometheusFactoryKeepsHelpTextAndBuckets() throws {
        let factory = ChorusPrometheusMetricsFactory()
        let metrics = HubMetrics(factory: factory)
        metrics.messagePublished()
        metrics.committed(batchSize: 3)
        metrics.observeDeliveryLatency(since: .now())
        CoreMetrics.Counter(label: "app_requests_total", factory: factory).increment()

        let text = factory.registry.emitToString()
        let lines = text.split(separator: "\n")
        for name in HubMetricName.allCases {
            #expect(text.contains("# HELP \(name.rawValue) \(name.help)\n"), "\(name)")
        }
        #expect(text.contains("# TYPE chorus_connections gauge\n"))
        #expect(text.contains("# TYPE chorus_delivery_latency_seconds histogram\n"))
        #expect(text.contains("# TYPE chorus_store_commit_batch_size histogram\n"))
        #expect(text.contains("chorus_messages_published_total 1\n"))
        #expect(text.contains(#"chorus_connections{transport="websocket"} 0.0"#))
        #expect(lines.filter { $0.hasPrefix("chorus_delivery_latency_seconds_bucket") }.count == HubMetricName.deliveryLatencyBuckets.count + 1)
        #expect(lines.filter { $0.hasPrefix("chorus_store_commit_batch_size_bucket") }.count == HubMetricName.commitBatchBuckets.count + 1)
        #expect(text.contains("# TYPE app_requests_total counter\napp_requests_total 1\n"))
        #expect(!text.contains("# HELP app_requests_total"))
    }

    @Test func thePrometheusExpositionRendersTheRegistry() {
        let factory = ChorusPrometheusMetricsFactory()
        HubMetrics(factory: factory).messagePublished()
        let exposition = MetricsExposition.prometheus(factory.registry)
        #expect(exposition.contentType == "text/plain; version=0.0.4; charset=utf-8")
        #expect(String(decoding: exposition.render(), as: UTF8.self).contains("chorus_messages_published_total 1\n"))
    }
}
