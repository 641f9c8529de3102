import ChorusCore
import ChorusSQLite
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

@testable import ChorusServer

/// Chorus as a library: its defaults (no history, nothing on disk), a store the application
/// passes in, and `ChorusServer` as a service in the application's own group.
@Suite struct LibraryServicesTests {
    @Test func theLibraryKeepsNoHistoryAndNothingOnDiskByDefault() throws {
        let configuration = HubConfiguration()
        #expect(configuration.namespaces.isEmpty)
        #expect(configuration.store == .memory)
        #expect(try ChorusServer.openStore(configuration) == nil)
        var withHistory = configuration
        withHistory.namespaces = ["chat": NamespaceOptions(historySize: 10)]
        #expect((try ChorusServer.openStore(withHistory) as? GroupCommitStore)?.backend is MemoryMessageStore)
    }

    @Test func loadingStartsFromTheDefaultsItIsGiven() throws {
        var defaults = HubConfiguration()
        defaults.namespaces = ["demo": NamespaceOptions(historySize: 5)]
        defaults.store = .sqlite
        let kept = try HubConfiguration.load(arguments: [], environment: [:], defaults: defaults)
        #expect(kept.namespaces == defaults.namespaces)
        #expect(kept.store == .sqlite)
        let changed = try HubConfiguration.load(arguments: ["--store", "memory"], environment: ["CHORUS_NAMESPACES": "{}"], defaults: defaults)
        #expect(changed.namespaces.isEmpty)
        #expect(changed.store == .memory)
        #expect(try HubConfiguration.load(arguments: [], environment: [:]).store == .memory)

        let store = try #require(ConfigurationOption.all.first { $0.key == "store" })
        #expect(store.defaultValue == "memory")
        #expect(store.defaultValue(in: defaults) == "sqlite")
    }

    @Test func chorusServerRunsInTheApplicationsGroupWithTheApplicationsStore() async throws {
        var configuration = HubConfiguration.isolated()
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        configuration.namespaces = ["chat": NamespaceOptions(historySize: 10)]
        let backend = MemoryMessageStore()
        let ports = PortBox()
        let server = try await ChorusServer(configuration: configuration, store: try GroupCommitStore(backend: backend)) { await ports.set($0) }
        // No signals: the application's group decides when Chorus shuts down.
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var client = try await TestWebSocketClient.connect(port: try await ports.wait(), path: "/ws?topic=chat:a")
            do {
                while try await !client.receive().text.contains(#""type":"subscribed""#) {}
                let receipt = try await server.hub.publishAndWait(topic: try Topic("chat:a"), event: nil, data: ByteBuffer(string: "1"))
                #expect(receipt.offset == 1)
                #expect(try backend.messages(topic: "chat:a", after: 0, limit: 10).map(\.offset) == [1])

                await group.triggerGracefulShutdown()
                // The client gets its message, then `disconnect` and close 1001.
                var frames: [TestWebSocketClient.Frame] = []
                repeat { frames.append(try await client.receive()) } while frames.last?.opcode != 0x8
                let texts = frames.dropLast().map(\.text)
                #expect(texts.count == 2)
                #expect(texts.first?.contains(#""type":"message""#) == true)
                #expect(texts.last?.contains(#""type":"disconnect","code":1001"#) == true)
                #expect(frames.last?.payload.getInteger(at: frames.last!.payload.readerIndex, as: UInt16.self) == 1001)
            } catch {
                await client.close()
                throw error
            }
            await client.close()
            // The group's run returns once Chorus has stopped.
            try await tasks.next()
        }
    }

    @Test func aStoppedStoreIsClosedWhileTheHubStillExists() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-test-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/chorus.sqlite"
        var configuration = HubConfiguration()
        configuration.namespaces = ["chat": NamespaceOptions(historySize: 10)]
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let store = try GroupCommitStore(backend: SQLiteMessageStore(path: path, sync: .normal))
        let hub = try Hub(
            configuration: configuration,
            eventLoopGroup: loops,
            authenticator: try Authenticator(configuration: configuration),
            historyStore: store
        )
        let group = ServiceGroup(services: [store, hub], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            _ = try await hub.publishAndWait(topic: try Topic("chat:a"), event: nil, data: ByteBuffer(string: "1"))
            #expect(FileManager.default.fileExists(atPath: path + "-wal"))
            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
        // Closed by the store's shutdown, not by the store going away: the file alone is whole.
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        let reopened = try SQLiteMessageStore(path: path, sync: .normal)
        #expect(try reopened.messages(topic: "chat:a", after: 0, limit: 10).map(\.offset) == [1])
        try reopened.close()
        withExtendedLifetime(hub) {}
        try await loops.shutdownGracefully()
    }
}
