import NIOCore

/// Loopback source addresses 127.0.0.2, 127.0.0.3, … that client sockets bind to before they
/// connect. Each (source, destination) pair has its own ~28,000 ephemeral ports, so spreading
/// over several sources lets a run hold or churn more connections than one address allows.
public struct SourceAddresses: Codable, Equatable, Sendable {
    public let hosts: [String]

    public init(count: Int) {
        self.hosts = (0..<max(1, count)).map { "127.0.\(($0 + 2) / 256).\(($0 + 2) % 256)" }
    }

    func address(for index: Int) throws -> SocketAddress {
        try SocketAddress(ipAddress: self.hosts[index % self.hosts.count], port: 0)
    }
}
