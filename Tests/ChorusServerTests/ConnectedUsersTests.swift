import ChorusCore
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import ChorusServer

/// Who counts as connected for Web Push (docs/pwa.md, "The namespace option"): the users with a
/// connection on this node, then, in a cluster, those the node directory finds on another node;
/// the directory is asked only about the rest.
@Suite struct ConnectedUsersTests {
    /// A cluster's directory that knows who is connected elsewhere and records what it is asked.
    final class Elsewhere: NodeDirectory {
        let connected: Set<String>
        let asked = Mutex<[Set<String>]>([])

        init(_ connected: Set<String>) { self.connected = connected }

        func nodes() async throws -> [NodeInfo] { [] }

        func connectedUsers(among users: Set<String>) async throws -> Set<String> {
            self.asked.withLock { $0.append(users) }
            return users.intersection(self.connected)
        }
    }

    static func hub(directory: (any NodeDirectory)?, group: any EventLoopGroup) throws -> Hub {
        let configuration = HubConfiguration()
        return try Hub(
            configuration: configuration, eventLoopGroup: group, authenticator: Authenticator(configuration: configuration), nodeDirectory: directory)
    }

    /// Registers a connection of `user` on the hub's (only) loop.
    static func connect(_ user: String, to hub: Hub, on loop: any EventLoop) async throws {
        let info = hub.makeConnectionInfo(transport: .webSocket, user: user, remoteAddress: nil)
        let shard = hub.shard(for: loop)
        try await loop.submit { shard.register(BrokerTests.Recorder(info)) }.get()
    }

    @Test func thisNodeFirstThenTheDirectoryForTheRest() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let elsewhere = Elsewhere(["bob", "dan"])
        let hub = try Self.hub(directory: elsewhere, group: group)
        try await Self.connect("ann", to: hub, on: group.next())

        #expect(try await hub.connectedUsers(among: ["ann", "bob", "cy"]) == ["ann", "bob"])
        #expect(try await hub.connectedUsers(among: ["ann"]) == ["ann"])
        #expect(try await hub.connectedUsers(among: []) == [])
        // Asked once, about those not connected here; not at all when every one is.
        #expect(elsewhere.asked.withLock { $0 } == [["bob", "cy"]])
        try await group.shutdownGracefully()
    }

    @Test func oneNodeAloneKnowsOnlyItsOwnConnections() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let hub = try Self.hub(directory: nil, group: group)
        try await Self.connect("ann", to: hub, on: group.next())
        #expect(try await hub.connectedUsers(among: ["ann", "bob"]) == ["ann"])
        try await group.shutdownGracefully()
    }
}
