import ChorusCore
import Foundation
import NIOCore
import NIOPosix
import PostgresNIO
import _ConnectionPoolModule

/// PostgreSQL could not do what was asked: not reachable, refused us, did not answer in time,
/// or failed a statement. The description says which, for an operator, without secrets
/// (postgres-nio's own errors describe themselves generically on purpose).
public struct PostgresUnavailable: Error, Sendable, CustomStringConvertible {
    /// What went wrong, with the server's address.
    public let message: String

    init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { self.message }

    /// `error` described for an operator, at `server` (a redacted URL).
    init(describing error: any Error, server: String) {
        switch error {
        case let error as PostgresUnavailable:
            self = error
        case let error as MigrationError:
            self.init(error.message)
        case let error as PSQLError:
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                self.init("PostgreSQL at \(server) refused: \(message)\(state)")
            } else if let underlying = error.underlying {
                self.init("cannot reach PostgreSQL at \(server): \(Self.reason(underlying))")
            } else {
                self.init("PostgreSQL at \(server) failed: \(error.code)")
            }
        case let error as ConnectionPoolError where error == .connectionCreationCircuitBreakerTripped:
            self.init("cannot reach PostgreSQL at \(server): no connection could be opened for a while")
        case let error as ConnectionPoolError where error == .poolShutdown:
            self.init("the PostgreSQL client is not running (shutting down)")
        default:
            self.init("PostgreSQL at \(server) failed: \(String(reflecting: error))")
        }
    }

    /// A socket error as the system says it ("Connection refused"), not NIO's nested dump.
    private static func reason(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let failure = error.connectionErrors.first { return Self.reason(failure.error) }
            if let dns = error.dnsAError ?? error.dnsAAAAError { return "cannot resolve \(error.host): \(dns)" }
            return "\(error)"
        case let error as IOError:
            return String(cString: strerror(error.errnoCode))
        default:
            return "\(error)"
        }
    }

    /// Runs `body`, failing with "did not answer within …" once `timeout` has passed (the body is
    /// cancelled: a pool lease stops waiting).
    static func withTimeout<Result: Sendable>(
        _ timeout: Duration,
        _ what: String,
        _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Result.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw PostgresUnavailable("\(what) did not answer within \(timeout)")
            }
            defer { group.cancelAll() }
            guard let result = try await group.next() else { throw CancellationError() }
            return result
        }
    }

    /// ``withTimeout(_:_:_:)`` for a store (`name`: "messages store", …): any failure becomes a
    /// `StoreError` saying what PostgreSQL said (``StoreError/postgres(_:in:)``).
    static func bounded<Result: Sendable>(
        _ timeout: Duration, store name: String, _ body: @escaping @Sendable () async throws -> Result
    ) async throws(StoreError) -> Result {
        do {
            return try await Self.withTimeout(timeout, "PostgreSQL (\(name))", body)
        } catch {
            throw StoreError.postgres(error, in: name)
        }
    }
}

extension StoreError {
    /// A store's failure on PostgreSQL, said plainly: "`store` error: why".
    static func postgres(_ error: any Error, in store: String) -> StoreError {
        if let error = error as? PostgresUnavailable {
            return StoreError("\(store) error: \(error.message)")
        }
        if let error = error as? PSQLError {
            return StoreError("\(store) error: \(error.serverInfo?[.message] ?? String(reflecting: error.code))")
        }
        return StoreError("\(store) error: \(error)")
    }
}
