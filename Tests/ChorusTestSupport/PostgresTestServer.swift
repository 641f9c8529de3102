import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL for tests: `initdb` in a temporary directory, `pg_ctl` on a free
/// loopback port, as `nobody` when the tests run as root (PostgreSQL refuses root). Stop and
/// start it again to test outages; ``shutdown()`` stops it by pid and removes the directory.
///
/// Everything that waits (a child process, the server's start or stop) runs on a thread of its
/// own: on a test's task it would hold one of the few threads that all tests share, and hubs
/// other tests started would miss their deadlines.
///
/// ```swift
/// try await PostgresTestServer.with { server in
///     let url = try await server.createDatabase("t1")
///     ...
/// }
/// ```
public final class PostgresTestServer: Sendable {
    /// The loopback port it listens on (the same across stop and start).
    public let port: Int
    /// The user that owns the cluster, with no password (trust authentication on loopback).
    public let user = "postgres"
    private let directory: URL
    private let binaries: URL

    /// `initdb` and start; returns once it accepts connections.
    private init() throws {
        self.binaries = try Self.findBinaries()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        self.port = try Self.freePort()
        if getuid() == 0 {
            guard let nobody = getpwnam("nobody") else { throw PostgresTestServerError("no 'nobody' user to run PostgreSQL as") }
            chown(self.directory.path, nobody.pointee.pw_uid, nobody.pointee.pw_gid)
        }
        do {
            try self.runAsOwner("initdb", ["-D", self.dataDirectory, "-U", self.user, "-A", "trust", "--no-sync", "-E", "UTF8"])
            try self.startBlocking()
        } catch {
            try? FileManager.default.removeItem(at: self.directory)
            throw error
        }
    }

    /// Runs `body` with a new server, and shuts it down afterwards whatever happens.
    public static func with<Result>(_ body: (PostgresTestServer) async throws -> Result) async throws -> Result {
        let server = try await Self.offload { try PostgresTestServer() }
        do {
            let result = try await body(server)
            await server.shutdown()
            return result
        } catch {
            await server.shutdown()
            throw error
        }
    }

    /// A `postgres_url` for `database` (the cluster's default database by default).
    public func url(database: String = "postgres") -> String {
        "postgres://\(self.user)@127.0.0.1:\(self.port)/\(database)?sslmode=disable"
    }

    /// Creates an empty database and returns its URL, so tests sharing a server do not meet.
    public func createDatabase(_ name: String) async throws -> String {
        try await self.psql("CREATE DATABASE \(name)")
        return self.url(database: name)
    }

    /// Runs SQL with `psql` and returns its unaligned, tuples-only output, trimmed.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        let psql = self.binaries.appendingPathComponent("psql").path
        let arguments = ["-X", "-h", "127.0.0.1", "-p", String(self.port), "-U", self.user, "-d", database, "-v", "ON_ERROR_STOP=1", "-A", "-t", "-c", sql]
        let output = try await Self.offload { try Self.run(psql, arguments) }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts it (again), on the same port and data; returns once it accepts connections.
    public func start() async throws {
        try await Self.offload { try self.startBlocking() }
    }

    private func startBlocking() throws {
        let options = "-p \(self.port) -k \(self.directory.path) -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        try self.runAsOwner("pg_ctl", ["-D", self.dataDirectory, "-l", self.directory.appendingPathComponent("log").path, "-w", "-t", "60", "-o", options, "start"])
    }

    /// Stops it (fast shutdown: open connections are closed) by the postmaster's pid, and waits
    /// until it is gone.
    public func stop() async throws {
        try await Self.offload { try self.stopBlocking() }
    }

    private func stopBlocking() throws {
        guard let pid = self.pid else { return }
        kill(pid, SIGINT)
        // The postmaster is not our child: its pid file going away says it is done.
        for _ in 0..<600 where FileManager.default.fileExists(atPath: self.pidFile) {
            usleep(50_000)
        }
        guard !FileManager.default.fileExists(atPath: self.pidFile) else {
            kill(pid, SIGKILL)
            throw PostgresTestServerError("PostgreSQL (pid \(pid)) did not stop within 30 s; killed")
        }
    }

    /// Stops it and removes its directory.
    public func shutdown() async {
        try? await self.stop()
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// Runs blocking `work` on a thread of its own and waits for it without holding this task's thread.
    private static func offload<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result(catching: work)) }.start()
        }
    }

    /// The postmaster's pid while it runs.
    public var pid: Int32? {
        guard let text = try? String(contentsOfFile: self.pidFile, encoding: .utf8),
            let line = text.split(separator: "\n").first
        else { return nil }
        return Int32(line.trimmingCharacters(in: .whitespaces))
    }

    private var dataDirectory: String { self.directory.appendingPathComponent("data").path }
    private var pidFile: String { self.dataDirectory + "/postmaster.pid" }

    private func runAsOwner(_ tool: String, _ arguments: [String]) throws {
        let path = self.binaries.appendingPathComponent(tool).path
        if getuid() == 0 {
            try Self.run("/usr/sbin/runuser", ["-u", "nobody", "--", path] + arguments)
        } else {
            try Self.run(path, arguments)
        }
    }

    /// Runs `executable` to its end; its output (stdout and stderr) goes to a file, not a pipe,
    /// so the postmaster `pg_ctl` leaves running cannot hold it open. posix_spawn and waitpid:
    /// Foundation's `Process` can miss the exit of a child whose own child lives on.
    @discardableResult
    private static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-pg-output-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw PostgresTestServerError("cannot run \(executable): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED and WEXITSTATUS, which Swift does not import.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw PostgresTestServerError("\(executable) \(arguments.joined(separator: " ")) failed (status \(status)): \(output)")
        }
        return output
    }

    /// The newest `/usr/lib/postgresql/N/bin`, or `CHORUS_PG_BIN`, or the `PATH` entry with `pg_ctl`.
    private static func findBinaries() throws -> URL {
        let manager = FileManager.default
        if let configured = ProcessInfo.processInfo.environment["CHORUS_PG_BIN"] { return URL(fileURLWithPath: configured) }
        let versions = (try? manager.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.compactMap(Int.init).sorted(by: >) {
            let bin = "/usr/lib/postgresql/\(version)/bin"
            if manager.isExecutableFile(atPath: bin + "/pg_ctl") { return URL(fileURLWithPath: bin) }
        }
        for entry in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where manager.isExecutableFile(atPath: "\(entry)/pg_ctl") {
            return URL(fileURLWithPath: String(entry))
        }
        throw PostgresTestServerError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl, no pg_ctl on PATH): scripts/test installs it")
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PostgresTestServerError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw PostgresTestServerError("cannot bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// The test server could not be set up or controlled.
public struct PostgresTestServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
