import AsyncHTTPClient
public import ChorusCore
import Foundation
public import NIOCore
import NIOHTTP1

/// Delivers one event to a webhook endpoint: a `POST` of the event's JSON with the Standard
/// Webhooks headers (docs/event-bus.md, "Webhook signatures"), and how the attempt ended, for
/// the retry policy and the attempt's durable record.
///
/// Redirects are not followed (a 3xx is a failure like any other: a redirect to another host
/// would carry signed events where the operator did not send them), the answer's body is read
/// only as far as an error message needs, and every attempt is bounded by the endpoint's
/// timeout, connecting included.
public struct WebhookClient: Sendable {
    private let http: HTTPClient

    /// Bytes of a failed answer's body kept in the attempt's error (the receiver's reason).
    static let errorBodyLimit = 512

    /// A client sending through `http`, which should be made with ``httpConfiguration`` (its
    /// owner shuts it down).
    init(http: HTTPClient) {
        self.http = http
    }

    /// What a webhook client's `HTTPClient` needs: no redirects, connections bounded by the
    /// attempts' own timeouts, and a connection that cannot be made failing the attempt at once
    /// (the consumer's retry policy is what tries again, with its backoff; the client's own
    /// retries would hold a delivery slot for the whole timeout of an endpoint that is down).
    static var httpConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.connectionPool.retryConnectionEstablishment = false
        // A consumer may have up to its `concurrency` deliveries in flight to one endpoint.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        return configuration
    }

    /// Sends `body` (an event's JSON) to `endpoint`, signed as message `id` at `now`
    /// (milliseconds since the Unix epoch), and waits at most `endpoint.timeout` for the answer.
    public func deliver(_ body: ByteBuffer, id: String, to endpoint: WebhookEndpoint, now: Int64) async -> WebhookAttempt {
        let started = ContinuousClock.now
        var request = HTTPClientRequest(url: endpoint.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Chorus-Webhooks")
        for (name, value) in endpoint.headers {
            request.headers.replaceOrAdd(name: name, value: value)
        }
        let signed = WebhookSignature.headers(id: id, timestamp: now / 1000, body: body, secrets: endpoint.secrets)
        for field in signed.fields {
            request.headers.replaceOrAdd(name: field.name, value: field.value)
        }
        request.body = .bytes(body)
        do {
            let response = try await self.http.execute(request, timeout: .milliseconds(endpoint.timeout.milliseconds))
            let status = Int(response.status.code)
            let retryAfter = response.headers.first(name: "Retry-After").flatMap { RetryAfter.delay(parsing: $0, now: now) }
            var error: String?
            if !(200..<300).contains(status) {
                let reason = String(buffer: await Self.prefix(of: response.body, limit: Self.errorBodyLimit))
                error = "HTTP \(status)" + (reason.isEmpty ? "" : ": " + Self.oneLine(reason))
            }
            // The rest of the body is discarded unread, so a receiver cannot hold the attempt open.
            return WebhookAttempt(status: status, retryAfter: retryAfter, error: error, duration: ContinuousClock.now - started)
        } catch {
            return WebhookAttempt(status: nil, retryAfter: nil, error: Self.describe(error, timeout: endpoint.timeout), duration: ContinuousClock.now - started)
        }
    }

    /// The first `limit` bytes of `body` (the rest is left unread: the connection is closed).
    static func prefix(of body: HTTPClientResponse.Body, limit: Int) async -> ByteBuffer {
        var prefix = ByteBuffer()
        do {
            for try await chunk in body {
                prefix.writeImmutableBuffer(chunk.getSlice(at: chunk.readerIndex, length: min(chunk.readableBytes, limit - prefix.readableBytes))!)
                if prefix.readableBytes >= limit { break }
            }
        } catch {
            // What arrived before the failure is the reason as far as it goes.
        }
        return prefix
    }

    /// An error's text for the attempt record, in words an operator reads in the DLQ.
    static func describe(_ error: any Error, timeout: Duration) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .getConnectionFromPoolTimeout:
                return "no answer within \(timeout)"
            case .remoteConnectionClosed:
                return "the endpoint closed the connection"
            default:
                break
            }
        }
        if let error = error as? IOError {
            // A refused or unreachable connection, after the client's retries within the timeout.
            return "cannot connect: \(String(cString: strerror(error.errnoCode)))"
        }
        return "\(error)"
    }

    /// `text` on one line, for a log or an attempt record.
    static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}

/// Where and how webhook deliveries of one consumer go.
public struct WebhookEndpoint: Sendable, Hashable {
    /// `http://` or `https://` URL.
    public var url: String
    /// Each delivery is signed with every one (more than one while a secret is rotated).
    public var secrets: [WebhookSecret]
    /// Extra request headers (the Standard Webhooks headers cannot be overridden).
    public var headers: [String: String]
    /// How long one attempt may take, connecting included.
    public var timeout: Duration

    /// An endpoint.
    public init(url: String, secrets: [WebhookSecret], headers: [String: String] = [:], timeout: Duration = .seconds(15)) {
        self.url = url
        self.secrets = secrets
        self.headers = headers
        self.timeout = timeout
    }
}

/// How one webhook attempt ended.
public struct WebhookAttempt: Sendable, Hashable {
    /// The answer's status; nil when there was no answer (refused, timed out, reset).
    public var status: Int?
    /// The answer's `Retry-After`, as a delay.
    public var retryAfter: Duration?
    /// Why it failed, for the attempt record: `HTTP 503: <the body's start>`, or the error.
    public var error: String?
    /// From the request's start to the answer's headers (or the failure).
    public var duration: Duration

    /// The attempt as the retry policy sees it: 2xx succeeded, 410 gone, anything else failed.
    public var outcome: DeliveryOutcome {
        guard let status else { return .failed() }
        return .http(status: status, retryAfter: self.retryAfter)
    }
}
