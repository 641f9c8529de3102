import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS
import Testing

@testable import ChorusServer

/// `tls_cert`/`tls_key`: validation, the server context (TLS 1.2+, ALPN), reload, and the
/// redirect listener's URLs. Handshakes run between two `EmbeddedChannel`s: no network.
@Suite struct TLSTests {
    /// Self-signed P-256 certificates for `localhost`, valid until 2126, and their keys.
    static let certificateA = """
-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIUNFl065i8Wq7L5SwwqhIW34vfsZcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNjE2MTQyNloYDzIxMjYxMTEy
MTYxNDI2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQ1NeCPfP6iXiDk99T5nri9cAMg/fHTKRICXVwX4qhg6K4KnRPb1BjV
G5uVzuaAjD7lTUVvRcdUql8TPZM+7nQno2kwZzAdBgNVHQ4EFgQU6Jruyj4bpeDk
7KyDHgFvDcj5N2QwHwYDVR0jBBgwFoAU6Jruyj4bpeDk7KyDHgFvDcj5N2QwDwYD
VR0TAQH/BAUwAwEB/zAUBgNVHREEDTALgglsb2NhbGhvc3QwCgYIKoZIzj0EAwID
SQAwRgIhAJVhItWxYVuZY2Lya2sOffOGzd+ZsmXJLq94a7xeGqQVAiEA9/+zHI6J
xu1fNWNuCJOXKixBKE7UazLZ1hXZP88EHhs=
-----END CERTIFICATE-----
"""
    static let keyA = """
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzUaKcEGqLr+sbRk7
p9Ct4dwbO8FG0sSNVl5NlZtWgkOhRANCAAQ1NeCPfP6iXiDk99T5nri9cAMg/fHT
KRICXVwX4qhg6K4KnRPb1BjVG5uVzuaAjD7lTUVvRcdUql8TPZM+7nQn
-----END PRIVATE KEY-----
"""
    static let certificateB = """
-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIUcpBYMS/iByJs8kmxUQFeAIxPoKkwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNjE2MTQzMVoYDzIxMjYxMTEy
MTYxNDMxWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARwNkqBjRkXK15X54qAM0/5BJATKFIieFbnhUKwtAFlu/B9dJHTzUEx
vzf5aD+tdgZbH53ppLGuY2ukoGVbizDSo2kwZzAdBgNVHQ4EFgQUgI9pYNcvafej
iTPQw2xlb0AhrpAwHwYDVR0jBBgwFoAUgI9pYNcvafejiTPQw2xlb0AhrpAwDwYD
VR0TAQH/BAUwAwEB/zAUBgNVHREEDTALgglsb2NhbGhvc3QwCgYIKoZIzj0EAwID
SQAwRgIhALs4wr6eFIH1Oa9tc2jEXSHPBhC8brMQXeVCxNBY7yTHAiEA07RMvTVr
+jk7zAOL7SCPzQI1D2eK/+t2KibvHbduqiE=
-----END CERTIFICATE-----
"""
    static let keyB = """
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgGViexGFdMt34Tt45
c/XybqavqCvEiqOw3b5qhpc9d06hRANCAARwNkqBjRkXK15X54qAM0/5BJATKFIi
eFbnhUKwtAFlu/B9dJHTzUExvzf5aD+tdgZbH53ppLGuY2ukoGVbizDS
-----END PRIVATE KEY-----
"""

    /// A directory with `files` written in it, removed by `body`'s end.
    static func withFiles<T>(_ files: [String: String], _ body: (URL) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, text) in files { try Data(text.utf8).write(to: directory.appendingPathComponent(name)) }
        return try body(directory)
    }

    @Test func bothOrNeither() throws {
        #expect(try ReloadableTLSContext(configuration: HubConfiguration()) == nil)
        let onlyCertificate = try HubConfiguration.load(arguments: ["--tls-cert", "cert.pem"], environment: [:])
        #expect(throws: ConfigurationError.self) { _ = try ReloadableTLSContext(configuration: onlyCertificate) }
        let onlyKey = try HubConfiguration.load(arguments: [], environment: ["CHORUS_TLS_KEY": "key.pem"])
        do {
            _ = try ReloadableTLSContext(configuration: onlyKey)
            Issue.record("a key without a certificate was accepted")
        } catch {
            #expect(error.message.contains("tls_key is set but tls_cert is not"))
        }
    }

    @Test func redirectPortOption() throws {
        #expect(HubConfiguration().tlsRedirectPort == nil)
        #expect(try HubConfiguration.load(arguments: ["--tls-redirect-port", "8080"], environment: [:]).tlsRedirectPort == 8080)
        for bad in ["0", "65536", "http"] {
            #expect(throws: ConfigurationError.self) { try HubConfiguration.load(arguments: ["--tls-redirect-port", bad], environment: [:]) }
        }
    }

    @Test func brokenFilesSayWhichAndWhy() throws {
        try Self.withFiles(["a.pem": Self.certificateA, "a.key": Self.keyA, "b.key": Self.keyB, "junk.pem": "not a certificate\n"]) { directory in
            func message(_ certificate: String, _ key: String) -> String? {
                do {
                    _ = try TLSServerContext.make(certificateFile: directory.appendingPathComponent(certificate).path, keyFile: directory.appendingPathComponent(key).path)
                    return nil
                } catch {
                    return error.message
                }
            }
            #expect(message("a.pem", "a.key") == nil)
            #expect(message("missing.pem", "a.key")?.hasPrefix("tls_cert") == true)
            #expect(message("junk.pem", "a.key")?.hasPrefix("tls_cert") == true)
            #expect(message("a.pem", "junk.pem")?.hasPrefix("tls_key") == true)
            #expect(message("a.pem", "b.key")?.contains("does not fit") == true)
        }
    }

    @Test func negotiatesHTTP11OverTLS12AndUp() throws {
        try Self.withFiles(["a.pem": Self.certificateA, "a.key": Self.keyA]) { directory in
            let server = try TLSServerContext.make(certificateFile: directory.appendingPathComponent("a.pem").path, keyFile: directory.appendingPathComponent("a.key").path)
            let modern = try Self.handshake(server: server, trusting: Self.certificateA, alpn: ["h2", "http/1.1"])
            #expect(modern == .success("http/1.1"))
            let tls12 = try Self.handshake(server: server, trusting: Self.certificateA, alpn: ["http/1.1"], versions: (.tlsv12, .tlsv12))
            #expect(tls12 == .success("http/1.1"))
            let tls11 = try Self.handshake(server: server, trusting: Self.certificateA, alpn: ["http/1.1"], versions: (.tlsv1, .tlsv11))
            #expect(tls11 == .failure)
        }
    }

    @Test func reloadSwapsForNewConnectionsAndKeepsAWorkingPairOnError() throws {
        try Self.withFiles(["cert.pem": Self.certificateA, "key.pem": Self.keyA]) { directory in
            let certificate = directory.appendingPathComponent("cert.pem")
            let key = directory.appendingPathComponent("key.pem")
            let tls = try ReloadableTLSContext(certificateFile: certificate.path, keyFile: key.path)
            let first = tls.context
            #expect(try Self.handshake(server: first, trusting: Self.certificateA) == .success(nil))

            // Half-written: the new certificate with the old key.
            try Data(Self.certificateB.utf8).write(to: certificate)
            #expect(!tls.reload(logger: .init(label: "test")))
            #expect(tls.context === first)

            try Data(Self.keyB.utf8).write(to: key)
            #expect(tls.reload(logger: .init(label: "test")))
            #expect(try Self.handshake(server: tls.context, trusting: Self.certificateB) == .success(nil))
            #expect(try Self.handshake(server: tls.context, trusting: Self.certificateA) == .failure)
            // A connection set up before the reload keeps the context it got.
            #expect(try Self.handshake(server: first, trusting: Self.certificateA) == .success(nil))
        }
    }

    /// A client that never answers close_notify holds a closing connection no longer than the
    /// hub's close handshake allows (swift-nio-ssl's own default is 5 s).
    @Test func aClosingConnectionWaitsForTheClientAtMostTheCloseGracePeriod() throws {
        try Self.withFiles(["a.pem": Self.certificateA, "a.key": Self.keyA]) { directory in
            let context = try TLSServerContext.make(certificateFile: directory.appendingPathComponent("a.pem").path, keyFile: directory.appendingPathComponent("a.key").path)
            var client = TLSConfiguration.makeClientConfiguration()
            client.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(Self.certificateA.utf8)))
            let clientChannel = EmbeddedChannel(handler: try NIOSSLClientHandler(context: NIOSSLContext(configuration: client), serverHostname: "localhost"))
            let serverChannel = EmbeddedChannel(handler: NIOSSLServerHandler(context: context))
            let address = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
            serverChannel.connect(to: address, promise: nil)
            clientChannel.connect(to: address, promise: nil)
            for _ in 0..<4 {
                while let bytes = try clientChannel.readOutbound(as: ByteBuffer.self) { try serverChannel.writeInbound(bytes) }
                while let bytes = try serverChannel.readOutbound(as: ByteBuffer.self) { try clientChannel.writeInbound(bytes) }
            }
            #expect(serverChannel.isActive)
            serverChannel.close(promise: nil)
            serverChannel.embeddedEventLoop.advanceTime(by: CloseHandshake.gracePeriod - .milliseconds(1))
            #expect(serverChannel.isActive)
            serverChannel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
            #expect(!serverChannel.isActive)
            clientChannel.close(promise: nil)
            clientChannel.embeddedEventLoop.advanceTime(by: .seconds(60))
        }
    }

    @Test func redirectLocation() {
        func location(_ host: String?, _ uri: String, port: Int = 8443) -> String {
            HTTPSRedirect.location(hostHeader: host, uri: uri, fallbackHost: "::1", port: port)
        }
        #expect(location("example.com:8080", "/demo?x=1") == "https://example.com:8443/demo?x=1")
        #expect(location("example.com", "/", port: 443) == "https://example.com/")
        #expect(location("[2001:db8::1]:80", "/ws") == "https://[2001:db8::1]:8443/ws")
        #expect(location("127.0.0.1", "/a/b?c=d&e") == "https://127.0.0.1:8443/a/b?c=d&e")
        // A Host that is not a host name (an injection attempt, a userinfo trick) is not used.
        #expect(location("evil.com/x?", "/") == "https://[::1]:8443/")
        #expect(location("a@evil.com", "/") == "https://[::1]:8443/")
        #expect(location("example.com:80:80", "/") == "https://[::1]:8443/")
        #expect(location(nil, "/p") == "https://[::1]:8443/p")
        // Only origin-form paths: no scheme-relative or absolute URL from the request line.
        #expect(location("example.com", "//evil.com/") == "https://example.com:8443/")
        #expect(location("example.com", "http://evil.com/") == "https://example.com:8443/")
    }

    enum Outcome: Equatable {
        case success(String?)
        case failure
    }

    /// A TLS handshake between a client trusting `trusting` only and `server`, bytes passed by
    /// hand; its negotiated ALPN protocol, or `.failure`.
    static func handshake(
        server context: NIOSSLContext, trusting trusted: String, alpn: [String] = [], versions: (lowest: TLSVersion, highest: TLSVersion)? = nil
    ) throws -> Outcome {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(trusted.utf8)))
        configuration.applicationProtocols = alpn
        if let versions {
            configuration.minimumTLSVersion = versions.lowest
            configuration.maximumTLSVersion = versions.highest
            configuration.cipherSuites = "ALL"
        }
        let events = HandshakeEvents()
        let client = EmbeddedChannel(handlers: [try NIOSSLClientHandler(context: NIOSSLContext(configuration: configuration), serverHostname: "localhost"), events])
        let server = EmbeddedChannel(handler: NIOSSLServerHandler(context: context))
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
        server.connect(to: address, promise: nil)
        client.connect(to: address, promise: nil)
        // Passes bytes both ways until neither side has more; false when one side failed.
        func pump() -> Bool {
            var moved = true
            while moved {
                moved = false
                do {
                    while let bytes = try client.readOutbound(as: ByteBuffer.self) {
                        moved = true
                        try server.writeInbound(bytes)
                    }
                    while let bytes = try server.readOutbound(as: ByteBuffer.self) {
                        moved = true
                        try client.writeInbound(bytes)
                    }
                } catch {
                    return false
                }
            }
            return true
        }
        let completed = pump()
        // Close both (close_notify each way; the handlers' shutdown timeout for a side that failed).
        client.close(promise: nil)
        server.close(promise: nil)
        _ = pump()
        client.embeddedEventLoop.advanceTime(by: .seconds(60))
        server.embeddedEventLoop.advanceTime(by: .seconds(60))
        guard completed, let negotiated = events.negotiated else { return .failure }
        return .success(negotiated)
    }
}

/// Records the client's handshake outcome.
private final class HandshakeEvents: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    /// Set once the handshake completed: the ALPN protocol, or nil inside when none.
    var negotiated: String??

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let negotiatedProtocol)? = event as? TLSUserEvent {
            self.negotiated = .some(negotiatedProtocol)
        }
        context.fireUserInboundEventTriggered(event)
    }
}
