public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A throwaway `redis-server` for tests: a free loopback port, no persistence, a temporary
/// directory, started and stopped by pid, and restartable on the same port (to test
/// reconnection). Optionally also listens with TLS on a second port, with a certificate made
/// by `openssl` for 127.0.0.1 and signed by a CA of its own (``caFile``).
public final class RedisTestServer: Sendable {
    /// The plain TCP port.
    public let port: Int
    /// The TLS port, when started with TLS.
    public let tlsPort: Int?
    /// The server's directory: its log, and the TLS files.
    public let directory: URL
    private let arguments: [String]
    /// The running server's pid.
    private let pid = Mutex<pid_t?>(nil)

    /// The CA certificate that signed the TLS certificate (with `tls`).
    public var caFile: String {
        self.directory.appendingPathComponent("ca.crt").path
    }

    /// The Unix socket the server also listens on, with `unixSocket`.
    public var unixSocketPath: String {
        self.directory.appendingPathComponent("redis.sock").path
    }

    /// `redis://127.0.0.1:<port>`.
    public var url: String {
        "redis://127.0.0.1:\(self.port)"
    }

    /// Starts a server with `arguments` added to its command line (`--requirepass`, …), a
    /// TLS port too when `tls`, and a Unix socket (``unixSocketPath``) when `unixSocket`;
    /// returns once it answers.
    public init(arguments: [String] = [], tls: Bool = false, unixSocket: Bool = false) throws {
        guard let executable = Self.find("redis-server") else {
            throw TestServerError("redis-server is not installed (apt-get install redis-server; scripts/test installs it)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if tls { try Self.makeCertificates(in: directory) }
        // A port found free can be taken by another test's server before this one binds it:
        // then it starts again on other ports.
        var attempt = 1
        while true {
            let port = try Self.freePort()
            var all = [executable, "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory.path, "--logfile", directory.appendingPathComponent("redis.log").path]
            if unixSocket {
                all += ["--unixsocket", directory.appendingPathComponent("redis.sock").path]
            }
            var tlsPort: Int?
            if tls {
                tlsPort = try Self.freePort()
                all += [
                    "--tls-port", "\(tlsPort!)", "--tls-cert-file", directory.appendingPathComponent("server.crt").path,
                    "--tls-key-file", directory.appendingPathComponent("server.key").path, "--tls-ca-cert-file", directory.appendingPathComponent("ca.crt").path,
                    "--tls-auth-clients", "no",
                ]
            }
            all += arguments
            try? FileManager.default.removeItem(at: directory.appendingPathComponent("redis.log"))
            do {
                let pid = try Self.launch(all, port: port, directory: directory)
                self.directory = directory
                self.port = port
                self.tlsPort = tlsPort
                self.arguments = all
                self.pid.withLock { $0 = pid }
                return
            } catch let error as TestServerError where attempt < 5 && error.description.contains("Address already in use") {
                attempt += 1
            }
        }
    }

    deinit {
        self.kill()
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// Starts the server (again, after ``kill()`` or ``stop()``) on the same ports; returns
    /// once it answers `PING`.
    public func start() throws {
        let pid = try Self.launch(self.arguments, port: self.port, directory: self.directory)
        self.pid.withLock { $0 = pid }
    }

    /// Starts `arguments` and returns its pid once it answers `PING` on `port`; a server that
    /// exits, or does not answer within 10 s, is an error quoting its log.
    private static func launch(_ arguments: [String], port: Int, directory: URL) throws -> pid_t {
        let pid = try Self.spawn(arguments)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == 0 else {
                throw TestServerError("redis-server exited at start: \(Self.log(in: directory).suffix(1000))")
            }
            if Self.answersPing(port: port) {
                return pid
            }
            usleep(20_000)
        }
        sendSignal(SIGKILL, to: pid)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        throw TestServerError("redis-server did not answer on port \(port) within 10 s: \(Self.log(in: directory).suffix(1000))")
    }

    /// Starts `arguments` with no signal blocked or ignored: a child inherits its parent
    /// thread's mask, and Foundation's `Process` starts it from a thread that blocks SIGTERM.
    private static func spawn(_ arguments: [String]) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, arguments[0], nil, &attributes, argv, environ)
        guard result == 0 else { throw TestServerError("cannot start \(arguments[0]): error \(result)") }
        return pid
    }

    /// Kills the server (SIGKILL, as a crash) and waits until it is gone.
    public func kill() {
        self.signal(SIGKILL)
    }

    /// Stops the server (SIGTERM) and waits until it is gone.
    public func stop() {
        self.signal(SIGTERM)
    }

    /// The server's log so far.
    public var log: String {
        Self.log(in: self.directory)
    }

    private static func log(in directory: URL) -> String {
        (try? String(contentsOf: directory.appendingPathComponent("redis.log"), encoding: .utf8)) ?? ""
    }

    private func signal(_ signal: Int32) {
        guard let pid = self.pid.withLock({ pid in defer { pid = nil }; return pid }) else { return }
        sendSignal(signal, to: pid)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    }

    private static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/usr/sbin"
        return (path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin"])
            .map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A loopback TCP port nothing listens on now (the kernel's pick for port 0).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestServerError("socket() failed") }
        defer { close(fd) }
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestServerError("cannot bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Whether something on `port` answers `PING` as Redis does (`+PONG`, or `-NOAUTH` when a password is set).
    private static func answersPing(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = Self.loopback(port: port)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected, write(fd, "PING\r\n", 6) == 6 else { return false }
        var reply = [UInt8](repeating: 0, count: 64)
        let count = read(fd, &reply, reply.count)
        return count > 0 && (reply[0] == UInt8(ascii: "+") || reply[0] == UInt8(ascii: "-"))
    }

    /// A CA, and a certificate for 127.0.0.1 and localhost that it signed, made with `openssl`.
    private static func makeCertificates(in directory: URL) throws {
        guard let openssl = Self.find("openssl") else { throw TestServerError("openssl is not installed") }
        let steps = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Chorus test CA", "-keyout", "ca.key", "-out", "ca.crt"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", "server.crt", "-extfile", "san.ext"],
        ]
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(to: directory.appendingPathComponent("san.ext"), atomically: true, encoding: .utf8)
        for step in steps {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: openssl)
            process.arguments = step
            process.currentDirectoryURL = directory
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw TestServerError("openssl \(step[0]) failed") }
        }
    }
}

private func sendSignal(_ signal: Int32, to pid: pid_t) {
    kill(pid, signal)
}

/// A test server that could not start, saying why.
public struct TestServerError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

extension RedisTestServer {
    /// Runs each of `runners` (a client's or a broker's `run()`) while `body` runs, which
    /// starts once `connected()` says they are all up; stops the server afterwards.
    public func run(
        _ runners: [@Sendable () async throws -> Void], connected: @escaping @Sendable () -> Bool, _ body: () async throws -> Void
    ) async throws {
        defer { self.stop() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for runner in runners { group.addTask { try await runner() } }
            while !connected() { try await Task.sleep(for: .milliseconds(10)) }
            try await body()
            group.cancelAll()
        }
    }
}
