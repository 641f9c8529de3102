import ChorusCore
import Foundation
import Testing

@testable import ChorusServer

@Suite struct LocalNodeTests {
    @Test func theAddressIsWhereTheListenerBoundUnlessTheConfigurationSaysOtherwise() {
        let bound = LocalNode(configuration: HubConfiguration())
        #expect(bound.reachableAt == nil)
        bound.listening(host: "127.0.0.1", port: 4100)
        bound.listening(host: "127.0.0.1", port: 4200)  // only the first bind counts
        #expect(bound.reachableAt == "127.0.0.1:4100")

        let wildcard = LocalNode(configuration: HubConfiguration())
        wildcard.listening(host: "0.0.0.0", port: 8080)
        #expect(wildcard.reachableAt == "\(ProcessInfo.processInfo.hostName):8080")
        let v6 = LocalNode(configuration: HubConfiguration())
        v6.listening(host: "::1", port: 8080)
        #expect(v6.reachableAt == "[::1]:8080")

        var configuration = HubConfiguration()
        configuration.nodeID = "web-1"
        configuration.nodeAddress = "10.0.0.5:8080"
        let configured = LocalNode(configuration: configuration, now: Date(timeIntervalSince1970: 1_700_000_000))
        configured.listening(host: "0.0.0.0", port: 9999)
        #expect(configured.info(connections: 7) == NodeInfo(id: "web-1", address: "10.0.0.5:8080", connections: 7, startedAt: 1_700_000_000_000))
    }

    @Test func generatedIDsAreTheHostNameAndARandomSuffix() {
        let ids = (0..<20).map { _ in LocalNode.generatedID() }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node"
        for id in ids {
            #expect(id.hasPrefix(host + "-") && id.count == host.count + 7)
            #expect(id.suffix(6).allSatisfy { $0.isHexDigit })
        }
        #expect(Set(ids).count > 1)
    }
}
