import NIOCore
import NIOPosix
import NIOSSL

/// Opens one ready connection: TCP or a Unix socket, TLS for `rediss://`, the RESP decoder
/// and command handler, then `AUTH` and `SELECT` in one flush. Shared by ``RedisClient``
/// and ``RedisSubscriber``.
struct RedisConnector: Sendable {
    let configuration: RedisConfiguration
    let eventLoop: any EventLoop

    /// A connection that has authenticated and selected its database; `pushes` takes the
    /// replies that are not answers (the subscriber's confirmations and messages), and
    /// `messages` the messages the decoder reads directly.
    func connect(pushes: RedisCommandHandler.PushRouter? = nil, messages: RedisSubscriber.MessageHandler? = nil) async throws -> any Channel {
        let sslContext = try self.configuration.tls.map(Self.sslContext)
        let configuration = self.configuration
        var serverHostname: String?
        if case .tcp(let host, _) = configuration.address, configuration.tls != nil, (try? SocketAddress(ipAddress: host, port: 0)) == nil {
            serverHostname = host
        }
        let bootstrap = ClientBootstrap(group: self.eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelInitializer { [serverHostname] channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let sslContext {
                        try sync.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverHostname))
                    }
                    try sync.addHandler(ByteToMessageHandler(RESPDecoder(limits: configuration.parserLimits, messages: messages)))
                    try sync.addHandler(RedisCommandHandler(timeout: configuration.commandTimeout, pushes: pushes))
                }
            }
        let channel: any Channel
        switch configuration.address {
        case .tcp(let host, let port):
            channel = try await bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1).connect(host: host, port: port).get()
        case .unixSocket(let path):
            channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
        }
        do {
            try await self.handshake(on: channel)
        } catch {
            try? await channel.close()
            throw error
        }
        return channel
    }

    /// `AUTH` and `SELECT` as the configuration asks, and a `PING`, pipelined; any error
    /// reply fails. The `PING` makes "connected" mean a finished TLS handshake and a server
    /// that answers.
    private func handshake(on channel: any Channel) async throws {
        var commands: [RESPCommand] = []
        if let password = self.configuration.password {
            commands.append(RESPCommand("AUTH", self.configuration.username.map { [.string($0), .string(password)] } ?? [.string(password)]))
        }
        if self.configuration.database != 0 {
            commands.append(RESPCommand("SELECT", .integer(self.configuration.database)))
        }
        commands.append(RESPCommand("PING"))
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        channel.send(.batch(commands, promise))
        for (command, reply) in zip(commands, try await promise.futureResult.get()) {
            if let message = reply.errorMessage {
                throw RedisError.server("\(command.name) failed: \(message)")
            }
        }
    }

    private static func sslContext(_ tls: RedisConfiguration.TLS) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile = tls.caFile {
            configuration.trustRoots = .file(caFile)
        }
        if !tls.verifiesCertificate {
            configuration.certificateVerification = .none
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw RedisError(.tls, "cannot set up TLS (ca file \(tls.caFile ?? "none")): \(error)")
        }
    }
}
