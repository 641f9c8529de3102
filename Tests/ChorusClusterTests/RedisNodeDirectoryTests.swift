import ChorusCluster
import ChorusCore
import ChorusRedis
import ChorusTestSupport
import Testing

@Suite(.timeLimit(.minutes(1))) struct RedisNodeDirectoryTests {
    @Test func everyNodeListsTheLiveNodesAndADeadOneDropsOut() async throws {
        let nodes = try RedisBrokerTests.Nodes()
        try await nodes.run {
            let directories = ["a", "b"].map { id in
                // "b" outlives the test; "a" expires a few seconds after its beat, long enough to be
                // listed first on a machine busy with builds (300 ms was not: the first listing
                // missed it under CI's load).
                RedisNodeDirectory(client: nodes.client, lifetime: id == "a" ? .seconds(3) : .seconds(60)) {
                    NodeInfo(id: id, address: id == "a" ? "10.0.0.1:8080" : nil, connections: id == "a" ? 3 : 0, startedAt: 1000)
                }
            }
            for directory in directories { try await directory.beat() }
            let listed = try await directories[1].nodes()
            #expect(listed == [
                NodeInfo(id: "a", address: "10.0.0.1:8080", connections: 3, startedAt: 1000), NodeInfo(id: "b", address: nil, connections: 0, startedAt: 1000),
            ])
            // "a" stops beating: its entry expires.
            while true {
                let ids = try await directories[1].nodes().map(\.id)
                guard ids.contains("a") else {
                    #expect(ids == ["b"])
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}
