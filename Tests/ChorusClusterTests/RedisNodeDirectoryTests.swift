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

    /// A user is connected somewhere while some node's broker follows their channel: the
    /// directory counts those subscriptions, over more users than one command asks about.
    @Test func connectedUsersAreTheOnesSomeNodeFollows() async throws {
        let nodes = try RedisBrokerTests.Nodes()
        try await nodes.run {
            let directory = RedisNodeDirectory(client: nodes.client) { NodeInfo(id: "a", address: nil, connections: 0, startedAt: 1) }
            try await nodes.subscribe(0, .user("alice"))
            try await nodes.subscribe(1, .user("bob"))
            try await nodes.subscribe(1, .user("alice"))
            try await nodes.subscribe(1, .topic("u:carol"))   // a topic's channel is not a user's
            let everyone = Set((0..<1_200).map { "user\($0)" } + ["alice", "bob", "carol", "user 1199"])
            try await nodes.subscribe(0, .user("user 1199"))
            #expect(try await directory.connectedUsers(among: everyone) == ["alice", "bob", "user 1199"])
            #expect(try await directory.connectedUsers(among: []) == [])
            // Bob's node lets him go: he is connected nowhere once Redis has the unsubscribe.
            nodes.brokers[1].unsubscribe(from: .user("bob"))
            while try await directory.connectedUsers(among: ["bob"]).contains("bob") {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await directory.connectedUsers(among: ["alice", "bob"]) == ["alice"])
        }
    }
}
