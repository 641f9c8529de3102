import Foundation
import NIOCore
import NIOHTTP1

/// The consumer side of `chorus bench events --consumer bridge|webhook`: a consumer of the run's
/// event types created on the hub (`PUT /api/events/consumers/bench-RUN`, deleted at the end),
/// and what it delivers to, in this process: a WebSocket subscriber of the topic a bridge
/// publishes to, or a local HTTP receiver of a webhook (``WebhookReceiver``). Each delivery is
/// timed by the stamp in its event's data: publish → consumer.
struct EventConsumerProbe {
    enum Kind: String, CaseIterable {
        case none, bridge, webhook
    }

    let kind: Kind
    let name: String
    let loops: LoopTallies
    private let channel: any Channel
    private let admin: (host: String, port: Int, apiKey: String?)

    /// The consumer's definition for the hub (docs/event-bus.md, "Consumers").
    static func definition(kind: Kind, types: String, topic: String, webhookURL: String, concurrency: Int) -> String {
        let target = kind == .bridge
            ? #"{"bridge":{"topics":["\#(topic)"]}}"#
            : #"{"webhook":{"url":"\#(webhookURL)","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}}"#
        return #"{"types":["\#(types)"],"target":\#(target),"ordering":"unordered","concurrency":\#(concurrency)}"#
    }

    /// Opens the receiving end, then creates the consumer of `typePrefix*` events.
    static func start(
        _ kind: Kind, run: String, typePrefix: String, host: String, port: Int, common: CommonOptions, concurrency: Int
    ) async throws -> EventConsumerProbe {
        let loops = LoopTallies(threads: 1)
        let topic = "bench-events-\(run)"
        let channel: any Channel
        var webhookURL = ""
        do {
            switch kind {
            case .bridge:
                let endpoint = try EndpointTemplate("ws://\(host):\(port)/ws")
                let connector = try common.connector(for: endpoint)
                let role = SubscriberRole(topicIndex: 0, topic: topic, subscribes: true, probe: true, lazy: false, closeWhenSubscribed: false)
                let tally = loops.tallies[0]
                channel = try await tally.eventLoop.flatSubmit { connector.subscribe(on: tally.eventLoop, sourceIndex: 0, role: role, tally: tally) }.get()
            case .webhook, .none:
                channel = try await WebhookReceiver.listen(on: loops)
                webhookURL = "http://127.0.0.1:\(channel.localAddress?.port ?? 0)/hook"
            }
        } catch {
            await loops.shutdown()
            throw BenchError("--consumer \(kind.rawValue): \(error)")
        }
        let probe = EventConsumerProbe(kind: kind, name: "bench-\(run)", loops: loops, channel: channel, admin: (host, port, common.credentials.apiKey))
        let body = Self.definition(kind: kind, types: typePrefix + "*", topic: topic, webhookURL: webhookURL, concurrency: concurrency)
        let answer = try await probe.admin(.PUT, body: body)
        guard (200..<300).contains(answer.status) else {
            await probe.close()
            throw BenchError("the hub refused the consumer (HTTP \(answer.status)): \(answer.body.prefix(300))")
        }
        ProgressLog.line("events", "consumer \(probe.name) delivers to \(kind == .bridge ? "the topic \(topic)" : webhookURL)")
        do {
            try await probe.awaitCaughtUp()
        } catch {
            await probe.close()
            throw error
        }
        return probe
    }

    /// A new consumer starts at the beginning of the log: waits (up to a minute) until it has
    /// looked through the events already there (its lag in `GET /api/events/stats` is 0), so
    /// that the run's first deliveries do not wait behind that scan.
    private func awaitCaughtUp() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let stats = try await HubAdmin.request(
                .GET, host: self.admin.host, port: self.admin.port, path: "/api/events/stats", apiKey: self.admin.apiKey, group: self.loops.group
            )
            let object = (try? JSONSerialization.jsonObject(with: Data(stats.body.utf8))) as? [String: Any]
            let consumers = object?["consumers"] as? [[String: Any]] ?? []
            if let mine = consumers.first(where: { $0["name"] as? String == self.name }), (mine["lag"] as? Int) == 0 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("the consumer \(self.name) did not catch up with the event log within 60 s")
    }

    /// What it received so far.
    func snapshot() async throws -> TallySnapshot {
        try await self.loops.snapshot()
    }

    /// Deletes the consumer and closes the receiving end.
    func close() async {
        _ = try? await self.admin(.DELETE, body: nil)
        try? await self.channel.close()
        await self.loops.shutdown()
    }

    private func admin(_ method: HTTPMethod, body: String?) async throws -> (status: UInt, body: String) {
        try await HubAdmin.request(
            method, host: self.admin.host, port: self.admin.port, path: "/api/events/consumers/\(self.name)", body: body,
            apiKey: self.admin.apiKey, group: self.loops.group
        )
    }
}
