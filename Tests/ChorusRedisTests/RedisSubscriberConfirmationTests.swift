import ChorusRedis
import ChorusTestSupport
import NIOCore
import NIOPosix
import Testing

@Suite(.timeLimit(.minutes(1))) struct RedisSubscriberConfirmationTests {
    @Test func aConfirmedSubscriptionIsOnTheServerWhenItsFutureCompletes() async throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        let client = RedisClient(configuration: try testConfiguration(server.url), logger: testLogger)
        let subscriber = RedisSubscriber(configuration: try testConfiguration(server.url), logger: testLogger) { _, _ in }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        // Not connected yet: fails at once, and is made on connecting all the same.
        await #expect { try await subscriber.subscribe(["early"], confirmedOn: loop).get() } throws: { ($0 as? RedisError)?.code == .notConnected }
        try await withRunning([client, subscriber]) {
            try await waitUntil(client.connectionStates(), is: true)
            try await waitUntil(subscriber.connectionStates(), is: true, "subscriber")
            try await subscriber.subscribe(["news"], confirmedOn: loop).get()
            try await subscriber.psubscribe(["topic.*"], confirmedOn: loop).get()
            // Already subscribed: confirmed all the same.
            try await subscriber.subscribe(["news"], confirmedOn: loop).get()
            let counts = try await client.send(RESPCommand("PUBSUB", ["NUMSUB", "news", "early"]))
            #expect(counts.array?.compactMap(\.int) == [1, 1])
            #expect(try await client.send(RESPCommand("PUBSUB", ["NUMPAT"])).int == 1)
        }
    }
}
