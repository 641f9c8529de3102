import ChorusCore
import ChorusJWT
import Foundation
import Synchronization
import Testing

@testable import ChorusClient

/// ChorusClient against real `chorus serve` processes (.build/debug/chorus, or CHORUS_BIN).
@Suite(.serialized) struct HubIntegrationTests {
    static let history = ["--namespaces", #"{"chat": {"history_size": 100000}}"#, "--store", "sqlite"]

    static func configuration(base: Duration = .milliseconds(20), cap: Duration = .milliseconds(200)) -> ChorusClient.Configuration {
        var configuration = ChorusClient.Configuration()
        configuration.backoff = Backoff(base: base, cap: cap)
        configuration.queueLimit = 100_000
        return configuration
    }

    /// Reads `count` messages' `n` from `subscription`, failing after `timeout`.
    static func collect(_ count: Int, from subscription: ChorusSubscription, timeout: Duration = .seconds(60)) async throws -> [Int] {
        struct Numbered: Decodable { var n: Int }
        return try await read(subscription, timeout: timeout) { $0.count == count }.map { try $0.decode(Numbered.self).n }
    }

    @Test func reconnectsAfterTheHubIsKilledAndRestartedWithoutLosingAMessage() async throws {
        let hub = try await HubProcess(Self.history).start()
        let subscriber = try ChorusClient(url: hub.url, configuration: Self.configuration(base: .milliseconds(500), cap: .seconds(1)))
        let publisher = try ChorusClient(url: hub.url, configuration: Self.configuration())
        await subscriber.connect()
        await publisher.connect()
        // The topic's epoch exists before the subscription, so the subscriber has a position.
        try await publisher.publish(topic: "chat:restart", data: ["n": 0])
        let messages = try await subscriber.channel("chat:restart").subscribe()
        for n in 1...30 { _ = try await publisher.publish(topic: "chat:restart", data: ["n": n]) }
        hub.kill()
        try await hub.start()
        // Published while the subscriber waits out its backoff: it must recover them.
        for n in 31...60 { _ = try await publisher.publish(topic: "chat:restart", data: ["n": n]) }
        #expect(try await Self.collect(60, from: messages) == Array(1...60))
        #expect(await subscriber.stats.reconnections >= 1)
        #expect(await subscriber.stats.recoveryFailures == 0)
        await subscriber.close()
        await publisher.close()
        hub.stop()
    }

    @Test func aThousandForcedDisconnectsDeliverEveryQueuedPublishOnceInOrder() async throws {
        // The hub deduplicates per publisher: a token's user spans connections (an anonymous
        // publisher is its connection, so a retry on the next one would be new).
        let secret = "client-test-secret-of-at-least-32-bytes!"
        let hub = try await HubProcess(Self.history + ["--jwt-secret", secret]).start()
        let signer = HS256TokenSigner(secret: secret)
        let token = signer.token(subject: "publisher", expiresAt: Int64(Date().timeIntervalSince1970) + 3600)
        let file = hub.directory.appendingPathComponent("outbox.jsonl")
        var configuration = Self.configuration(base: .milliseconds(1), cap: .milliseconds(5))
        configuration.queueFile = file
        configuration.token = token
        // Queued before the application "restarts": the first client never connects.
        let offline = try ChorusClient(url: hub.url, configuration: configuration)
        for n in 1...500 {
            try await offline.enqueue(QueuedPublish(topic: "chat:outbox", event: "n", data: #"{"n":\#(n)}"#))
        }
        await offline.close()
        #expect(try OutboxFile(url: file).load().count == 500)

        var subscriberConfiguration = Self.configuration()
        subscriberConfiguration.token = signer.token(subject: "reader", expiresAt: Int64(Date().timeIntervalSince1970) + 3600)
        let subscriber = try ChorusClient(url: hub.url, configuration: subscriberConfiguration)
        await subscriber.connect()
        try await subscriber.waitUntilConnected()
        try await subscriber.channel("chat:outbox").publish(data: ["n": 0])
        let messages = try await subscriber.channel("chat:outbox").subscribe()

        let publisher = try ChorusClient(url: hub.url, configuration: configuration)
        #expect(await publisher.stats.queued == 500)
        let drops = 1000
        let perDrop = 3
        let total = 500 + drops * perDrop
        let received = Task { try await Self.collect(total, from: messages, timeout: .seconds(300)) }
        await publisher.connect()
        var next = 501
        for _ in 0..<drops {
            for _ in 0..<perDrop {
                try await publisher.enqueue(QueuedPublish(topic: "chat:outbox", event: "n", data: #"{"n":\#(next)}"#))
                next += 1
            }
            let before = await publisher.stats.reconnections
            try await publisher.waitUntilConnected()
            try await Task.sleep(for: .microseconds(Int.random(in: 0...2000)))
            await publisher.dropConnection()
            while await publisher.stats.reconnections == before { try await Task.sleep(for: .milliseconds(1)) }
        }
        let numbers = try await received.value
        #expect(numbers.count == total)
        #expect(numbers == Array(1...total))
        #expect(await publisher.stats.reconnections >= drops)
        while await publisher.stats.queued > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(try OutboxFile(url: file).load().isEmpty)
        await publisher.close()
        await subscriber.close()
        hub.stop()
    }

    @Test func rotatesToTheSecondHubWhenTheFirstDies() async throws {
        let first = try await HubProcess().start()
        let second = try await HubProcess().start()
        let client = try ChorusClient(urls: [first.url, second.url], configuration: Self.configuration())
        await client.connect()
        try await client.waitUntilConnected()
        let firstSession = await client.session
        first.kill()
        let messages = try await client.channel("news:rotation").subscribe()
        // The subscription is restored on the second hub; a publish there reaches it.
        let publisher = try ChorusClient(url: second.url, configuration: Self.configuration())
        await publisher.connect()
        try await publisher.publish(topic: "news:rotation", data: ["n": 1])
        #expect(try await Self.collect(1, from: messages, timeout: .seconds(20)) == [1])
        #expect(await client.state == .connected)
        #expect(await client.session != firstSession)
        // The heartbeat's measure, on demand.
        #expect(try await client.ping() > .zero)
        #expect(await client.stats.lastLatency != nil)
        // A custom frame type: the stock hub's `demo:typing` answers with an ack.
        struct Typing: Encodable, Sendable { var room: String }
        let reply = try await client.send(type: "demo:typing", fields: Typing(room: "r1"))
        guard case .ack = reply else {
            Issue.record("demo:typing answered \(reply)")
            return
        }
        await client.close()
        await publisher.close()
        second.stop()
    }

    @Test func renewsAnExpiredTokenThroughTheProvider() async throws {
        let secret = "client-test-secret-of-at-least-32-bytes!"
        let hub = try await HubProcess(["--jwt-secret", secret]).start()
        let signer = HS256TokenSigner(secret: secret)
        let calls = Mutex(0)
        var configuration = Self.configuration()
        configuration.tokenProvider = {
            let call = calls.withLock { $0 += 1; return $0 }
            // The first token expires within seconds; later ones last.
            let ttl: Int64 = call == 1 ? 2 : 3600
            return signer.token(subject: "alice", expiresAt: Int64(Date().timeIntervalSince1970) + ttl)
        }
        let client = try ChorusClient(url: hub.url, configuration: configuration)
        await client.connect()
        let messages = try await client.channel("chat:tokens").subscribe()
        #expect(await client.session?.user == "alice")
        // The hub closes the connection with `token_expired` within a sweep of the expiry; the
        // client asks the provider again and comes back.
        let deadline = ContinuousClock.now + .seconds(60)
        while calls.withLock({ $0 }) < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        try await client.waitUntilConnected()
        #expect(calls.withLock { $0 } >= 2)
        _ = try await client.publish(topic: "chat:tokens", data: ["n": 7])
        #expect(try await Self.collect(1, from: messages, timeout: .seconds(10)) == [7])
        // A direct message to the token's user reaches its connections, this one included.
        let directs = await client.directMessages()
        _ = try await client.direct(to: "alice", event: "hi", data: ["n": 8])
        var iterator = directs.makeAsyncIterator()
        let direct = await iterator.next()
        #expect(direct?.event == "hi" && direct?.from?.user == "alice" && direct?.dataJSON == #"{"n":8}"#)
        await client.close()
        hub.stop()
    }

    @Test func aSlowConsumerClosedWith4008RecoversEveryMessage() async throws {
        let hub = try await HubProcess(Self.history + ["--max-backlog", "65536"]).start()
        let slow = try ChorusClient(url: hub.url, configuration: Self.configuration())
        let publisher = try ChorusClient(url: hub.url, configuration: Self.configuration())
        await slow.connect()
        await publisher.connect()
        try await publisher.publish(topic: "chat:slow", data: ["n": 0])
        let messages = try await slow.channel("chat:slow").subscribe()
        await slow.pauseReading(true)
        let padding = String(repeating: "x", count: 4000)
        struct Padded: Encodable, Sendable { var n: Int; var pad: String }
        // 16 MB against a 64 KiB backlog: more than the loopback socket buffers absorb.
        let total = 4000
        for n in 1...total { try await publisher.enqueue(QueuedPublish(topic: "chat:slow", event: "n", data: #"{"n":\#(n),"pad":"\#(padding)"}"#)) }
        while await publisher.stats.queued > 0 { try await Task.sleep(for: .milliseconds(20)) }
        await slow.pauseReading(false)
        #expect(try await Self.collect(total, from: messages, timeout: .seconds(60)) == Array(1...total))
        #expect(await slow.stats.reconnections >= 1)
        await slow.close()
        await publisher.close()
        hub.stop()
    }

    @Test func publishesAnEventAndARepeatIsADuplicate() async throws {
        let secret = "client-test-secret-of-at-least-32-bytes!"
        let hub = try await HubProcess(["--jwt-secret", secret, "--events-client-types", "chat.*"]).start()
        var configuration = Self.configuration()
        configuration.token = HS256TokenSigner(secret: secret).token(subject: "alice", expiresAt: Int64(Date().timeIntervalSince1970) + 3600)
        let client = try ChorusClient(url: hub.url, configuration: configuration)
        await client.connect()
        try await client.waitUntilConnected()
        let first = try await client.publishEvent(type: "chat.typing", data: ["room": "r1"], eventID: "t-1", partitionKey: "r1")
        let again = try await client.publishEvent(type: "chat.typing", data: ["room": "r1"], eventID: "t-1")
        #expect(first.eventID == "t-1" && !first.duplicate && first.sequence > 0)
        #expect(again.duplicate && again.sequence == first.sequence && again.timestamp == first.timestamp)
        await #expect(throws: (any Error).self) { try await client.publishEvent(type: "order.created", data: ["id": 1]) }
        await client.close()
        hub.stop()
    }
}
