import ChorusRedis
import ChorusTestSupport
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

/// Against a real `redis-server` each test starts on a free loopback port.
@Suite(.serialized) struct RedisIntegrationTests {
    @Test func pipelinesTenThousandCommands() async throws {
        let server = try RedisTestServer()
        defer { server.stop() }  // keeps it alive to the end
        let client = RedisClient(configuration: try testConfiguration(server.url), logger: testLogger)
        try await withRunning([client]) {
            try await waitUntil(client.connectionStates(), is: true)
            // One batch, one flush.
            let batch = try await client.send((0..<10_000).map { _ in RESPCommand("INCR", "n") })
            #expect(batch.map(\.int) == (1...10_000).map { $0 })
            // Ten thousand single sends in flight at once, answered in order.
            let futures = (0..<10_000).map { _ in client.send(RESPCommand("INCR", "n")) }
            var replies: [Int?] = []
            for future in futures {
                replies.append(try await future.get().int)
            }
            #expect(replies == (10_001...20_000).map { $0 })
        }
    }

    @Test func serverErrorsFailTheCommand() async throws {
        let server = try RedisTestServer()
        defer { server.stop() }  // keeps it alive to the end
        let client = RedisClient(configuration: try testConfiguration(server.url), logger: testLogger)
        try await withRunning([client]) {
            try await waitUntil(client.connectionStates(), is: true)
            await #expect { try await client.send(RESPCommand("NOSUCHCOMMAND")) } throws: { error in
                (error as? RedisError)?.code == .server && "\(error)".contains("unknown command")
            }
            #expect(try await client.send(RESPCommand("PING")).string == "PONG")
        }
    }

    @Test func authenticatesWithAPasswordAndAsAnACLUser() async throws {
        let server = try RedisTestServer(arguments: ["--requirepass", "s3cret"])
        defer { server.stop() }  // keeps it alive to the end
        let admin = RedisClient(configuration: try testConfiguration("redis://:s3cret@127.0.0.1:\(server.port)"), logger: testLogger)
        let hub = RedisClient(configuration: try testConfiguration("redis://hub:hub%20pw@127.0.0.1:\(server.port)"), logger: testLogger)
        let wrong = RedisClient(configuration: try testConfiguration("redis://:wrong@127.0.0.1:\(server.port)"), logger: Logger(label: "quiet", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await withRunning([admin, wrong]) {
            try await waitUntil(admin.connectionStates(), is: true)
            #expect(try await admin.send(RESPCommand("ACL", "WHOAMI")).string == "default")
            _ = try await admin.send(RESPCommand("ACL", "SETUSER", "hub", "on", ">hub pw", "~*", "+@all"))
            try await withRunning([hub]) {
                try await waitUntil(hub.connectionStates(), is: true)
                #expect(try await hub.send(RESPCommand("ACL", "WHOAMI")).string == "hub")
            }
            // A wrong password never counts as connected: its commands fail at once.
            #expect(!wrong.isConnected)
            await #expect { try await wrong.send(RESPCommand("PING")) } throws: { ($0 as? RedisError)?.code == .notConnected }
        }
    }

    @Test func selectsTheDatabaseOfTheURL() async throws {
        let server = try RedisTestServer()
        defer { server.stop() }  // keeps it alive to the end
        let five = RedisClient(configuration: try testConfiguration(server.url + "/5"), logger: testLogger)
        let zero = RedisClient(configuration: try testConfiguration(server.url), logger: testLogger)
        try await withRunning([five, zero]) {
            try await waitUntil(five.connectionStates(), is: true)
            try await waitUntil(zero.connectionStates(), is: true)
            _ = try await five.send(RESPCommand("SET", "where", "five"))
            #expect(try await zero.send(RESPCommand("GET", "where")) == .null)
            _ = try await zero.send(RESPCommand("SELECT", 5))
            #expect(try await zero.send(RESPCommand("GET", "where")).string == "five")
        }
    }

    @Test func scriptsRunByEVALSHAAndFallBackToEVALAfterAFlush() async throws {
        let server = try RedisTestServer()
        defer { server.stop() }  // keeps it alive to the end
        let client = RedisClient(configuration: try testConfiguration(server.url), logger: testLogger)
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        try await withRunning([client]) {
            try await waitUntil(client.connectionStates(), is: true)
            #expect(try await client.evaluate(script, keys: ["n"], arguments: [2]).int == 2)
            #expect(try await client.send(RESPCommand("SCRIPT", "EXISTS", .string(script.sha1))) == .array([.integer(1)]))
            #expect(try await client.evaluate(script, keys: ["n"], arguments: [3]).int == 5)
            _ = try await client.send(RESPCommand("SCRIPT", "FLUSH"))
            #expect(try await client.evaluate(script, keys: ["n"], arguments: [4]).int == 9)
            // A script's own error is the caller's, not a reason to fall back.
            await #expect { try await client.evaluate(RedisScript("return redis.error_reply('BOOM nope')")) } throws: {
                ($0 as? RedisError)?.isServerError("BOOM") == true
            }
        }
    }

    @Test func subscribesToChannelsPatternsAndShardChannels() async throws {
        let server = try RedisTestServer()
        defer { server.stop() }  // keeps it alive to the end
        let client = RedisClient(configuration: try testConfiguration(server.url), logger: testLogger)
        let (messages, sink) = AsyncStream.makeStream(of: String.self)
        let subscriber = RedisSubscriber(configuration: try testConfiguration(server.url), logger: testLogger) { channel, payload in
            sink.yield("\(String(buffer: channel))=\(String(buffer: payload))")
        }
        subscriber.subscribe(["news"])
        subscriber.psubscribe(["topic.*"])
        subscriber.ssubscribe(["shard-1"])
        try await withRunning([client, subscriber]) {
            try await waitUntil(client.connectionStates(), is: true)
            try await waitUntil(subscriber.connectionStates(), is: true, "subscriber")
            _ = try await client.send([
                RESPCommand("PUBLISH", "news", "a"), RESPCommand("PUBLISH", "topic.x", "b"),
                RESPCommand("SPUBLISH", "shard-1", "c"), RESPCommand("PUBLISH", "other", "d"),
            ])
            var iterator = messages.makeAsyncIterator()
            #expect(await [iterator.next(), iterator.next(), iterator.next()] == ["news=a", "topic.x=b", "shard-1=c"])

            // Subscribing while connected; the unsubscribed channel gets nothing more.
            subscriber.subscribe(["late"])
            subscriber.unsubscribe(["news"])
            subscriber.unsubscribe(["news"])
            try await self.waitForSubscribers(client, channel: "late", count: 1)
            try await self.waitForSubscribers(client, channel: "news", count: 0)
            _ = try await client.send([RESPCommand("PUBLISH", "news", "lost"), RESPCommand("PUBLISH", "late", "e")])
            #expect(await iterator.next() == "late=e")
        }
    }

    @Test func clientAndSubscriberRecoverWhenTheServerRestarts() async throws {
        let server = try RedisTestServer()
        defer { server.stop() }  // keeps it alive to the end
        let client = RedisClient(configuration: try testConfiguration(server.url), logger: Logger(label: "quiet", factory: { _ in SwiftLogNoOpLogHandler() }))
        let (messages, sink) = AsyncStream.makeStream(of: String.self)
        let (resubscribed, resubscribedSink) = AsyncStream.makeStream(of: Void.self)
        let subscriber = RedisSubscriber(
            configuration: try testConfiguration(server.url),
            logger: Logger(label: "quiet", factory: { _ in SwiftLogNoOpLogHandler() }),
            onResubscribed: { resubscribedSink.yield() }
        ) { channel, payload in
            sink.yield("\(String(buffer: channel))=\(String(buffer: payload))")
        }
        subscriber.subscribe(["events"])
        subscriber.ssubscribe(["sharded"])
        try await withRunning([client, subscriber]) {
            try await waitUntil(client.connectionStates(), is: true)
            try await waitUntil(subscriber.connectionStates(), is: true, "subscriber")

            server.kill()
            try await waitUntil(client.connectionStates(), is: false)
            try await waitUntil(subscriber.connectionStates(), is: false, "subscriber")
            // While down, commands fail at once.
            await #expect { try await client.send(RESPCommand("PING")) } throws: { ($0 as? RedisError)?.code == .notConnected }
            // Subscribed while down: made on the next connection.
            subscriber.psubscribe(["p.*"])

            try server.start()
            try await waitUntil(client.connectionStates(), is: true)
            try await waitUntil(subscriber.connectionStates(), is: true, "subscriber")
            var hooks = resubscribed.makeAsyncIterator()
            #expect(await hooks.next() != nil)
            _ = try await client.send([
                RESPCommand("PUBLISH", "events", "after"), RESPCommand("SPUBLISH", "sharded", "s"), RESPCommand("PUBLISH", "p.1", "p"),
            ])
            var iterator = messages.makeAsyncIterator()
            #expect(await [iterator.next(), iterator.next(), iterator.next()] == ["events=after", "sharded=s", "p.1=p"])
        }
    }

    @Test func gracefulShutdownLetsCommandsInFlightFinish() async throws {
        let server = try RedisTestServer()
        defer { server.stop() }  // keeps it alive to the end
        let client = RedisClient(configuration: try testConfiguration(server.url), logger: testLogger)
        let other = RedisClient(configuration: try testConfiguration(server.url), logger: testLogger)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [client], logger: testLogger))
        try await withRunning([other]) {
            try await waitUntil(other.connectionStates(), is: true)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await waitUntil(client.connectionStates(), is: true)
                // A pop that blocks until the other client pushes.
                let blocked: EventLoopFuture<RESPValue> = client.send(RESPCommand("BLPOP", "queue", 0))
                await group.triggerGracefulShutdown()
                try await waitUntil(client.connectionStates(), is: false)
                await #expect { try await client.send(RESPCommand("PING")) } throws: { ($0 as? RedisError)?.code == .shuttingDown }
                _ = try await other.send(RESPCommand("LPUSH", "queue", "job"))
                #expect(try await blocked.get().array?.compactMap(\.string) == ["queue", "job"])
                try await tasks.waitForAll()
            }
        }
    }

    @Test func connectsOverTLSVerifyingTheServer() async throws {
        let server = try RedisTestServer(tls: true)
        defer { server.stop() }  // keeps it alive to the end
        let tlsPort = try #require(server.tlsPort)
        let verified = RedisClient(configuration: try testConfiguration("rediss://127.0.0.1:\(tlsPort)/2?ca=\(server.caFile)"), logger: testLogger)
        let insecure = RedisClient(configuration: try testConfiguration("rediss://localhost:\(tlsPort)?insecure=true"), logger: testLogger)
        try await withRunning([verified, insecure]) {
            try await waitUntil(verified.connectionStates(), is: true)
            try await waitUntil(insecure.connectionStates(), is: true)
            #expect(try await verified.send(RESPCommand("SET", "k", "tls")).string == "OK")
            #expect(try await insecure.send([RESPCommand("SELECT", 2), RESPCommand("GET", "k")])[1].string == "tls")
        }
    }

    /// Waits until `PUBSUB NUMSUB channel` is `count`.
    private func waitForSubscribers(_ client: RedisClient, channel: String, count: Int) async throws {
        for _ in 0..<500 {
            let reply = try await client.send(RESPCommand("PUBSUB", "NUMSUB", .string(channel)))
            if reply.array?.last?.int == count {
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("\(channel) never had \(count) subscribers")
    }
}
