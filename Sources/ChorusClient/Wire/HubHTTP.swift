public import ChorusCore
public import NIOCore
public import NIOHTTP1
public import NIOPosix
import NIOSSL

/// The hub's HTTP API, for what a backend does without a WebSocket: `POST /api/publish`, and
/// any other route through ``request(_:method:path:body:bearer:group:)`` (`chorus events`).
public enum HubHTTP {
    /// Publishes through `POST /api/publish` of the hub at `endpoint` (its `ws://` URL is turned
    /// into `http://`), authenticated with `bearer` (an API key or a client token) when given.
    /// Returns the receipt; an HTTP error throws the hub's error code and message.
    public static func publish(
        _ endpoint: HubEndpoint,
        topic: String,
        event: String = "message",
        data: RawJSON,
        idempotencyKey: String? = nil,
        bearer: String? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> PublishAck {
        var body = ByteBuffer()
        body.writeStaticString(#"{"topic":"#)
        body.writeJSONString(topic)
        body.writeStaticString(#","event":"#)
        body.writeJSONString(event)
        body.writeStaticString(#","data":"#)
        body.writeImmutableBuffer(data.bytes)
        if let idempotencyKey {
            body.writeStaticString(#","idempotency_key":"#)
            body.writeJSONString(idempotencyKey)
        }
        body.writeStaticString("}")
        let (status, reply) = try await Self.request(endpoint, method: .POST, path: "/api/publish", body: body, bearer: bearer, group: group)
        let object: JSONObject
        do {
            object = try JSONObject(parsing: reply)
        } catch {
            throw ChorusClientError(.invalidJSON, "HTTP \(status) with a body that is not JSON")
        }
        guard status == 200 else {
            let error = try? object.required("error").object()
            func field(_ key: String) -> String? { (try? error?.optionalString(key)) ?? nil }
            throw ChorusClientError(
                ChorusClientError.Code(rawValue: field("code") ?? "http_\(status)"),
                field("message") ?? "HTTP \(status)",
                reason: field("reason").map(ReasonCode.init(rawValue:))
            )
        }
        return PublishAck(
            messageID: try object.optionalString("message_id"),
            offset: object["offset"]?.int64.flatMap(UInt64.init(exactly:)),
            epoch: try object.optionalString("epoch")
        )
    }

    /// One request to the hub's HTTP API on a connection of its own (`body`, when given, is
    /// JSON); returns the status and the whole body.
    public static func request(
        _ endpoint: HubEndpoint,
        method: HTTPMethod,
        path: String,
        body: ByteBuffer? = nil,
        bearer: String?,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> (status: Int, body: ByteBuffer) {
        let tlsContext = endpoint.tls ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        let channel = try await ClientBootstrap(group: group)
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tlsContext, serverHostname: endpoint.host))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.hostHeader)
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
        }
        headers.add(name: "Connection", value: "close")
        if let bearer { headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        var parts: [HTTPClientRequestPart] = [.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers))]
        if let body { parts.append(.body(.byteBuffer(body))) }
        parts.append(.end(nil))
        return try await channel.executeThenClose { inbound, outbound in
            // One write: the hub answers a bodiless request at its head and closes, so an `.end`
            // written on its own could find the channel closed and lose the answer.
            try await outbound.write(contentsOf: parts)
            var status = 0
            var reply = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let head): status = Int(head.status.code)
                case .body(var chunk): reply.writeBuffer(&chunk)
                case .end: return (status, reply)
                }
            }
            throw ChorusClientError(.disconnected, "the hub closed the connection before its reply")
        }
    }
}
