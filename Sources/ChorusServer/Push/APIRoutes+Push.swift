import ChorusCore
import ChorusPush
import Crypto
import Foundation
import Hummingbird
import NIOCore

/// The handlers of `/api/push/…` (registered in APIRoutes): a user's push subscriptions (their client token, or the API key naming the
/// user) and sending (the API key, or a client token that may publish to the topic).
extension APIRoutes {
    /// Topics one subscription may opt in.
    static let maxPushTopics = 64

    /// 409 `unavailable` while no VAPID key is configured: the request is fine, the hub is not
    /// set up for it (a 5xx would say the hub failed).
    func pushService() throws(HTTPError) -> PushService {
        guard let push = self.hub.push else {
            throw HTTPError(.conflict, message: "Web Push is not configured on this hub: set push_vapid_private_key and push_vapid_subject (chorus push keys)")
        }
        return push
    }

    /// The user a subscription call acts for: a client token's `sub`, or with the API key the
    /// `user` it names.
    private func pushUser(_ caller: Authenticator.APIAccess, named: String?) throws(ProtocolError) -> String {
        switch caller {
        case .publisher(let identity):
            guard let user = identity.user else { throw ProtocolError(.forbidden, "push subscriptions belong to a user: the token needs a 'sub'") }
            if let named, named != user { throw ProtocolError(.forbidden, "a client token manages its own user's push subscriptions only") }
            return user
        case .admin:
            guard let named, !named.isEmpty else { throw ProtocolError(.badRequest, "with the API key, name the user ('user')") }
            return named
        }
    }

    func addPushSubscription(_ request: Request) async throws -> Response {
        let caller = try self.caller(request)
        let push = try self.pushService()
        let body = try await self.jsonBody(request)
        let user = try self.pushUser(caller, named: try body.optionalString("user", allowingNull: false))
        let endpoint = try body.requiredString("endpoint")
        guard let keyObject = try? body.required("keys").object() else {
            throw ProtocolError(.badRequest, "field 'keys' must be an object with 'p256dh' and 'auth'")
        }
        let p256dh = try keyObject.requiredString("p256dh")
        let auth = try keyObject.requiredString("auth")
        do throws(WebPushError) {
            try PushEndpoint.validate(endpoint, allowLoopbackHTTP: push.allowLoopbackHTTP)
            _ = try WebPushSubscriberKeys(p256dh: p256dh, auth: auth)
        } catch {
            throw ProtocolError(.badRequest, error.description)
        }
        let topics = try self.pushTopics(body, access: self.access(of: caller))
        let id = Self.subscriptionID(endpoint: endpoint)
        let existing = try await push.store.subscriptions(ofUser: user)
        if !existing.contains(where: { $0.id == id }), existing.count >= push.maxSubscriptionsPerUser {
            throw ProtocolError(.tooLarge, "user has \(existing.count) push subscriptions: the limit is \(push.maxSubscriptionsPerUser) (push_max_subscriptions_per_user)")
        }
        // Another user's subscription with this endpoint (the same browser, a new login) is replaced.
        let subscription = PushSubscription(
            id: id, user: user, endpoint: endpoint, p256dh: p256dh, auth: auth, topics: topics,
            createdAt: Int64(Date().timeIntervalSince1970 * 1000))
        try await push.store.save(subscription)
        return Self.json(Self.describe(subscription), status: .created)
    }

    /// The optional `topics` list: topics (not patterns) the caller may read, at most 64.
    private func pushTopics(_ body: JSONObject, access: TopicAccess?) throws(ProtocolError) -> [String] {
        guard let value = body["topics"] else { return [] }
        guard let elements = value.elements, elements.count <= Self.maxPushTopics else {
            throw ProtocolError(.badRequest, "field 'topics' must be an array of at most \(Self.maxPushTopics) topic names")
        }
        var topics: [String] = []
        for element in elements {
            guard let name = element.string else { throw ProtocolError(.badRequest, "field 'topics' must be an array of topic names") }
            let topic: Topic
            do {
                topic = try Topic(name)
            } catch {
                throw ProtocolError(.badRequest, "invalid topic \(ProtocolError.quoted(name)): \(error.description)")
            }
            if !access.mayRead(topic) { throw ProtocolError(.forbidden, "not allowed to read '\(topic.name)'") }
            if !topics.contains(topic.name) { topics.append(topic.name) }
        }
        return topics
    }

    func pushSubscriptions(_ request: Request) async throws -> Response {
        let caller = try self.caller(request)
        let push = try self.pushService()
        let user = try self.pushUser(caller, named: request.uri.queryParameters.get("user"))
        let subscriptions = try await push.store.subscriptions(ofUser: user)
        return Self.json(["subscriptions": subscriptions.map(Self.describe)])
    }

    func removePushSubscription(_ request: Request, id: String) async throws -> Response {
        let caller = try self.caller(request)
        let push = try self.pushService()
        let owner: String?
        switch caller {
        case .admin: owner = nil
        case .publisher(let identity): owner = try self.pushUser(.publisher(identity), named: nil)
        }
        guard try await push.store.remove(id: id, user: owner) else {
            throw ProtocolError(.notFound, "no push subscription '\(id)'")
        }
        return Response(status: .noContent)
    }

    /// `POST /api/push/send`: to every subscription of `user`, or of `topic`'s opted-in users
    /// (only those without an open connection, on any node of a cluster, unless `offline_only`
    /// is false). Queued:
    /// 202 with how many subscriptions it was queued for.
    func sendPush(_ request: Request) async throws -> Response {
        let caller = try self.caller(request)
        let push = try self.pushService()
        let body = try await self.jsonBody(request)
        let user = try body.optionalString("user", allowingNull: false)
        let topicName = try body.optionalString("topic", allowingNull: false)
        guard (user == nil) != (topicName == nil) else { throw ProtocolError(.badRequest, "name either 'user' or 'topic'") }
        var subscriptions: [PushSubscription]
        if let user {
            guard case .admin = caller else { throw ProtocolError(.forbidden, "sending a push to a user needs the API key") }
            subscriptions = try await push.store.subscriptions(ofUser: user)
        } else {
            let topic = try body.topic("topic")
            try self.access(of: caller).authorizePublish(to: topic)
            subscriptions = try await push.store.subscriptions(forTopic: topic.name)
            if try Self.flag(body, "offline_only", default: true), !subscriptions.isEmpty {
                let online: Set<String>
                do {
                    online = try await self.hub.connectedUsers(among: Set(subscriptions.map(\.user)))
                } catch {
                    // Better no push than one to users who are connected: the caller may retry.
                    throw ProtocolError(.unavailable, "who is connected cannot be told now (\(error)); try again")
                }
                subscriptions.removeAll { online.contains($0.user) }
            }
        }
        let options = try Self.pushOptions(body)
        let payload = PushPayload(
            title: try body.optionalString("title", allowingNull: false), body: try body.optionalString("body", allowingNull: false),
            url: try body.optionalString("url", allowingNull: false), icon: try body.optionalString("icon", allowingNull: false),
            tag: try body.optionalString("tag", allowingNull: false), data: body["data"]?.bytes)
        let encoded = payload.encoded(limit: .max)
        guard encoded.count <= WebPushEncryption.maxPlaintextSize else {
            throw ProtocolError(.tooLarge, "the notification is \(encoded.count) bytes of JSON; a push message holds at most \(WebPushEncryption.maxPlaintextSize)")
        }
        let queued = push.enqueue(encoded, to: subscriptions, options: options)
        return Self.json(["queued": queued], status: .accepted)
    }

    private static func pushOptions(_ body: JSONObject) throws(ProtocolError) -> PushOptions {
        var options = PushOptions()
        if let ttl = body["ttl"] {
            guard let seconds = ttl.int64, (0...2_419_200).contains(seconds) else {
                throw ProtocolError(.badRequest, "field 'ttl' must be a whole number of seconds from 0 to 2419200 (28 days)")
            }
            options.ttl = Int(seconds)
        }
        if let text = try body.optionalString("urgency", allowingNull: false) {
            guard let urgency = PushOptions.Urgency(rawValue: text) else {
                throw ProtocolError(.badRequest, "field 'urgency' must be one of very-low, low, normal, high")
            }
            options.urgency = urgency
        }
        if let topic = try body.optionalString("push_topic", allowingNull: false) {
            guard PushOptions.isValidTopic(topic) else {
                throw ProtocolError(.badRequest, "field 'push_topic' must be 1 to 32 characters of A-Z, a-z, 0-9, '-' and '_'")
            }
            options.topic = topic
        }
        return options
    }

    private static func flag(_ body: JSONObject, _ key: String, default value: Bool) throws(ProtocolError) -> Bool {
        guard let field = body[key] else { return value }
        guard let flag = field.bool else { throw ProtocolError(.badRequest, "field '\(key)' must be true or false") }
        return flag
    }

    /// The first 16 bytes of the endpoint's SHA-256, base64url: stable, and not the endpoint
    /// itself (a capability URL) in paths and logs.
    static func subscriptionID(endpoint: String) -> String {
        Base64.encode(SHA256.hash(data: Array(endpoint.utf8)).prefix(16), .url)
    }

    private static func describe(_ subscription: PushSubscription) -> [String: Any] {
        [
            "id": subscription.id, "user": subscription.user, "endpoint": subscription.endpoint,
            "topics": subscription.topics, "created_at": subscription.createdAt,
        ]
    }
}
