import Foundation
import PostgresNIO
import NIOSSL

/// Where the shared store lives and how the hub talks to it: parsed from `postgres_url`
/// (`postgres://user:password@host:port/database?sslmode=…`), plus the pool's size and timeouts.
public struct PostgresConfiguration: Sendable, Equatable {
    /// How the connection is encrypted (`sslmode`, with libpq's meanings).
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Never TLS.
        case disable
        /// TLS when the server offers it, without verifying its certificate (libpq's default).
        case prefer
        /// TLS always, without verifying the certificate.
        case require
        /// TLS always; the certificate must be valid for the host.
        case verifyFull = "verify-full"
    }

    /// The server's host name or address.
    public var host: String
    /// The server's port (5432 when the URL names none).
    public var port: Int
    /// Who the hub connects as.
    public var username: String
    /// The user's password; nil when the URL has none.
    public var password: String?
    /// The database; the username when the URL names none (as libpq does).
    public var database: String
    /// Whether and how connections use TLS (`sslmode`, `prefer` when the URL names none).
    public var tls: TLSMode
    /// The most connections the pool opens (`postgres_pool_size`).
    public var poolSize = 10
    /// How long opening one connection may take (`postgres_connect_timeout`).
    public var connectTimeout: Duration = .seconds(5)
    /// How long the readiness check waits for `SELECT 1`.
    public var healthTimeout: Duration = .seconds(2)

    /// Parses a `postgres://` or `postgresql://` URL. Errors never repeat the password.
    public init(url text: String) throws(PostgresConfigurationError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme else {
            throw PostgresConfigurationError("postgres_url is not a URL; expected postgres://user:password@host:port/database")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw PostgresConfigurationError("postgres_url has the scheme '\(scheme)'; expected postgres:// or postgresql://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw PostgresConfigurationError("postgres_url names no host; expected postgres://user:password@host:port/database")
        }
        guard let username = components.user?.removingPercentEncoding, !username.isEmpty else {
            throw PostgresConfigurationError("postgres_url names no user; expected postgres://user:password@host:port/database")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else {
            throw PostgresConfigurationError("postgres_url has the port \(port); expected 1 to 65535")
        }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.contains("/"), let database = path.removingPercentEncoding else {
            throw PostgresConfigurationError("postgres_url has the path '/\(path)'; expected one database name")
        }
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else {
                throw PostgresConfigurationError("postgres_url has the parameter '\(item.name)'; the only one supported is sslmode")
            }
            guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                throw PostgresConfigurationError(
                    "postgres_url has sslmode=\(item.value ?? ""); expected one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            tls = mode
        }
        // URLComponents keeps an IPv6 literal's brackets.
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = port
        self.username = username
        self.password = components.password?.removingPercentEncoding
        self.database = database.isEmpty ? username : database
        self.tls = tls
    }

    /// The URL without its password, for logs and error messages.
    public var redactedURL: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "postgres://\(self.username)@\(host):\(self.port)/\(self.database)?sslmode=\(self.tls.rawValue)"
    }

    /// The application name connections carry, so `pg_stat_activity` shows the hub's connections.
    public static let applicationName = "chorus"

    var clientConfiguration: PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: self.host,
            port: self.port,
            username: self.username,
            password: self.password,
            database: self.database,
            tls: self.clientTLS
        )
        configuration.options.maximumConnections = self.poolSize
        configuration.options.connectTimeout = self.connectTimeout
        configuration.options.additionalStartupParameters = [("application_name", Self.applicationName)]
        return configuration
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: self.host,
            port: self.port,
            username: self.username,
            password: self.password,
            database: self.database,
            tls: try self.connectionTLS()
        )
        configuration.options.connectTimeout = .init(self.connectTimeout)
        configuration.options.additionalStartupParameters = [("application_name", Self.applicationName)]
        return configuration
    }

    private var tlsConfiguration: TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if self.tls != .verifyFull { tls.certificateVerification = .none }
        return tls
    }

    private var clientTLS: PostgresClient.Configuration.TLS {
        switch self.tls {
        case .disable: .disable
        case .prefer: .prefer(self.tlsConfiguration)
        case .require, .verifyFull: .require(self.tlsConfiguration)
        }
    }

    private func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        switch self.tls {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: self.tlsConfiguration))
        case .require, .verifyFull: .require(try NIOSSLContext(configuration: self.tlsConfiguration))
        }
    }
}

/// A `postgres_url` (or other PostgreSQL setting) that cannot be used.
public struct PostgresConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, without the password.
    public let message: String

    init(_ message: String) { self.message = message }

    public var description: String { self.message }
}
