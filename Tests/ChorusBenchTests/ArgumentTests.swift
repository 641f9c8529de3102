import Testing

@testable import ChorusBench

@Suite struct ArgumentTests {
    @Test func urlTemplatesCarryTheTopic() throws {
        let nchan = try EndpointTemplate("ws://127.0.0.1:8081/sub/{topic}")
        #expect(nchan.scheme == .ws && nchan.port == 8081 && nchan.hasTopic)
        #expect(nchan.target(topic: "bench-3") == "/sub/bench-3")
        let chorus = try EndpointTemplate("http://localhost/api/publish")
        #expect(chorus.port == 80 && !chorus.hasTopic && chorus.hostHeader == "localhost")
        #expect(try EndpointTemplate("ws://h:1?topic={topic}").target == "/?topic={topic}")
    }

    @Test func tlsURLsAreWebSocketAndHTTPOverTLS() throws {
        let subscriber = try EndpointTemplate("wss://localhost/ws")
        #expect(subscriber.scheme == .ws && subscriber.tls && subscriber.port == 443 && subscriber.hostHeader == "localhost")
        #expect(subscriber.description == "wss://localhost:443/ws")
        let publisher = try EndpointTemplate("https://127.0.0.1:8443/api/publish")
        #expect(publisher.scheme == .http && publisher.tls && publisher.hostHeader == "127.0.0.1:8443")
        #expect(try !EndpointTemplate("ws://h/ws").tls)
    }

    @Test(arguments: ["127.0.0.1:8080", "ftp://h/ws", "ws://:80/", "ws://h:99999/", "ws://h:x/"])
    func badURLsAreRefusedWithAMessage(_ text: String) {
        #expect(throws: BenchError.self) { try EndpointTemplate(text) }
    }

    @Test func aListOfURLsSpreadsSubscribersAndPublishersOverTheNodes() throws {
        let nodes = try EndpointTemplate.list("ws://127.0.0.1:8080/ws, ws://127.0.0.1:8082/ws,ws://127.0.0.1:8084/ws")
        #expect(nodes.map(\.port) == [8080, 8082, 8084])
        #expect(throws: BenchError.self) { try EndpointTemplate.list("ws://127.0.0.1:8080/ws,") }
        let fleet = FleetSpec(
            endpoints: nodes, serverProtocol: .chorus, token: nil, firstIndex: 0, count: 7, topics: 2, topicPrefix: "t", probes: 3,
            subscribes: true, sources: SourceAddresses(count: 1), threads: 1, connectConcurrency: 1, drainIntervalMilliseconds: 0,
            connectTimeoutMilliseconds: 1
        )
        // Probes 0, 1, 2 land on three different nodes; the topics alternate independently.
        #expect((0..<7).map(fleet.endpointIndex(of:)) == [0, 1, 2, 0, 1, 2, 0])
        let publishers = try EndpointTemplate.list("http://127.0.0.1:8080/api/publish,http://127.0.0.1:8082/api/publish")
        let plan = PublishPlan(
            endpoints: publishers, serverProtocol: .chorus, apiKey: nil, topics: 1, topicPrefix: "t", payloadSize: 10,
            intervalNanoseconds: 0, startNanoseconds: 0, deadlineNanoseconds: 0
        )
        #expect((0..<3).map { plan.endpoint(for: $0).port } == [8080, 8082, 8080])
    }

    @Test func optionsParseAndUnknownOnesAreErrors() throws {
        var arguments = try BenchArguments(mode: "fanout", ["--subscribers", "10_000", "--duration=500ms", "--rate", "10", "--server", "nchan"])
        #expect(try arguments.integer("--subscribers", default: 1) == 10_000)
        #expect(try arguments.seconds("--duration", default: 1) == 0.5)
        #expect(try arguments.number("--rate", default: 0) == 10)
        #expect(try arguments.choice("--server", default: ServerProtocol.chorus) == .nchan)
        try arguments.finish()

        let unknown = try BenchArguments(mode: "echo", ["--bogus", "1"])
        #expect(throws: BenchError.self) { try unknown.finish() }
        var negative = try BenchArguments(mode: "echo", ["--connections", "-5"])
        #expect(throws: BenchError.self) { try negative.integer("--connections", default: 1) }
        var badChoice = try BenchArguments(mode: "echo", ["--server", "redis"])
        #expect(throws: BenchError.self) { try badChoice.choice("--server", default: ServerProtocol.chorus) }
        #expect(throws: BenchError.self) { try BenchArguments(mode: "echo", ["--connections"]) }
        #expect(throws: BenchError.self) { try BenchArguments(mode: "echo", ["stray"]) }
    }

    @Test func expectedDeliveriesFollowTheTopicOfEachSubscriber() {
        // 5 subscribers over 2 topics: topic 0 has 3, topic 1 has 2.
        #expect(FanoutMode.expectedDeliveries(published: [10, 7], subscribers: 5, topics: 2) == 10 * 3 + 7 * 2)
    }
}
