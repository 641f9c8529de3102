import ChorusPush
import Testing

@Suite struct PushRetryPolicyTests {
    let policy = PushRetryPolicy(maxAttempts: 4, baseDelay: .seconds(1), maxDelay: .seconds(5))

    @Test func successAndGoneAreFinal() {
        #expect(self.policy.decide(status: 201, retryAfterSeconds: nil, attempt: 1) == .delivered)
        #expect(self.policy.decide(status: 404, retryAfterSeconds: nil, attempt: 1) == .gone)
        #expect(self.policy.decide(status: 410, retryAfterSeconds: 3, attempt: 2) == .gone)
    }

    @Test func throttlingServerErrorsAndNoAnswerBackOffUntilTheLastAttempt() {
        #expect(self.policy.decide(status: 429, retryAfterSeconds: nil, attempt: 1) == .retry(after: .seconds(1)))
        #expect(self.policy.decide(status: 503, retryAfterSeconds: nil, attempt: 2) == .retry(after: .seconds(2)))
        #expect(self.policy.decide(status: nil, retryAfterSeconds: nil, attempt: 3) == .retry(after: .seconds(4)))
        #expect(self.policy.decide(status: 500, retryAfterSeconds: nil, attempt: 4) == .failed(status: 500))
        #expect(self.policy.decide(status: nil, retryAfterSeconds: nil, attempt: 4) == .failed(status: nil))
    }

    @Test func retryAfterIsHonouredUpToTheLongestWait() {
        #expect(self.policy.decide(status: 429, retryAfterSeconds: 3, attempt: 1) == .retry(after: .seconds(3)))
        #expect(self.policy.decide(status: 429, retryAfterSeconds: 0, attempt: 1) == .retry(after: .zero))
        #expect(self.policy.decide(status: 503, retryAfterSeconds: 3600, attempt: 1) == .retry(after: .seconds(5)))
        // The backoff is capped as well.
        let long = PushRetryPolicy(maxAttempts: 30, baseDelay: .seconds(1), maxDelay: .seconds(60))
        #expect(long.decide(status: 500, retryAfterSeconds: nil, attempt: 25) == .retry(after: .seconds(60)))
    }

    @Test func otherRefusalsAreNotRetried() {
        for status in [400, 401, 403, 413] {
            #expect(self.policy.decide(status: status, retryAfterSeconds: 1, attempt: 1) == .failed(status: status))
        }
    }
}

@Suite struct PushEndpointTests {
    @Test func httpsOnAHostNameIsAccepted() throws {
        try PushEndpoint.validate("https://fcm.googleapis.com/fcm/send/abc:def", allowLoopbackHTTP: false)
        try PushEndpoint.validate("https://updates.push.services.mozilla.com/wpush/v2/gAAA", allowLoopbackHTTP: false)
    }

    @Test func everythingElseIsRefusedWithAReason() {
        for endpoint in [
            "http://push.example.com/x", "ftp://push.example.com/x", "push.example.com/x", "https:///x",
            "https://127.0.0.1/x", "https://localhost/x", "https://10.0.0.1/x", "https://[::1]/x", "https://[fd00::1]/x",
            "https://user:pass@push.example.com/x", "https://push.example.com/" + String(repeating: "a", count: 2048),
        ] {
            #expect(throws: WebPushError.self, "\(endpoint)") { try PushEndpoint.validate(endpoint, allowLoopbackHTTP: false) }
        }
    }

    @Test func theLoopbackOptionAdmitsLoopbackOnly() throws {
        try PushEndpoint.validate("http://127.0.0.1:8123/push/a", allowLoopbackHTTP: true)
        try PushEndpoint.validate("http://localhost:8123/push/a", allowLoopbackHTTP: true)
        #expect(throws: WebPushError.self) { try PushEndpoint.validate("http://10.0.0.1/x", allowLoopbackHTTP: true) }
        #expect(throws: WebPushError.self) { try PushEndpoint.validate("http://push.example.com/x", allowLoopbackHTTP: true) }
    }

    @Test func optionsMakeTheDeliveryHeaders() {
        let headers = PushOptions(ttl: 60, urgency: .veryLow, topic: "lobby").headers
        #expect(headers.map(\.name) == ["TTL", "Urgency", "Content-Encoding", "Content-Type", "Topic"])
        #expect(headers.map(\.value) == ["60", "very-low", "aes128gcm", "application/octet-stream", "lobby"])
        #expect(PushOptions.isValidTopic("a-Z_09"))
        #expect(!PushOptions.isValidTopic(""))
        #expect(!PushOptions.isValidTopic("has space"))
        #expect(!PushOptions.isValidTopic(String(repeating: "a", count: 33)))
    }
}
