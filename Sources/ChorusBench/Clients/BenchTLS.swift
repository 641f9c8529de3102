import NIOCore
import NIOSSL

/// TLS for `wss://` and `https://` endpoints. The generator measures a server it was pointed
/// at, usually on loopback with a throwaway certificate: it does not verify the certificate
/// (the handshake and the encryption, what TLS costs the server, are the same).
enum BenchTLS {
    static func context() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    /// Adds the TLS client handler first in `channel`'s pipeline when `endpoint` is TLS; SNI
    /// names the host unless it is an IP address.
    static func addHandler(to channel: any Channel, endpoint: EndpointTemplate, context: NIOSSLContext?) throws {
        guard endpoint.tls, let context else { return }
        let isAddress = (try? SocketAddress(ipAddress: endpoint.host, port: 0)) != nil
        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : endpoint.host))
    }
}
