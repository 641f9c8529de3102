import ChorusCore
import Testing

@testable import ChorusServer

/// The authorization rules without I/O: token claim lists, namespace rules, and how a pattern's
/// read scope is judged (all, some — filtered per delivery —, none).
@Suite struct TopicAccessTests {
    private static func configuration(_ namespaces: [String: NamespaceOptions], direct: HubConfiguration.DirectMessages) -> HubConfiguration {
        var configuration = HubConfiguration()
        configuration.namespaces = namespaces
        configuration.directMessages = direct
        return configuration
    }

    private static func access(
        user: String?, subscribe: [String]? = nil, publish: [String]? = nil, direct: Bool? = nil,
        namespaces: [String: NamespaceOptions] = [:], directMessages: HubConfiguration.DirectMessages = .clients
    ) throws -> TopicAccess? {
        let permissions = TokenPermissions(
            subscribe: try subscribe.map { try $0.map { try TopicPattern($0) } },
            publish: try publish.map { try $0.map { try TopicPattern($0) } },
            direct: direct
        )
        let identity = Identity(user: user, expiresAt: nil, permissions: permissions)
        return TopicAccess.make(for: identity, configuration: Self.configuration(namespaces, direct: directMessages))
    }

    private static func scope(_ access: TopicAccess?, _ pattern: String) throws -> TopicAccess.ReadScope {
        try access?.readScope(of: TopicPattern(pattern)) ?? .all
    }

    @Test func unrestrictedClientsCarryNoAccess() throws {
        #expect(try Self.access(user: nil) == nil)
        // Under the default `direct_messages` (authenticated), an anonymous client is restricted.
        #expect(try Self.access(user: nil, directMessages: .authenticated) != nil)
        #expect(try Self.access(user: "ann", directMessages: .authenticated) == nil)
        #expect(try Self.access(user: "ann", namespaces: ["chat": NamespaceOptions(historySize: 10)]) == nil)
        // A rule that only concerns anonymous clients does not restrict a user.
        #expect(try Self.access(user: "ann", namespaces: ["p": NamespaceOptions(anonymousSubscribe: false)]) == nil)
        #expect(try Self.access(user: nil, namespaces: ["p": NamespaceOptions(anonymousSubscribe: false)]) != nil)
    }

    @Test func claimListsDecideReadScope() throws {
        let access = try Self.access(user: "ann", subscribe: ["game.*", "lobby", "chat.public.**"])
        #expect(try Self.scope(access, "game.1") == .all)
        #expect(try Self.scope(access, "game.*") == .all)
        #expect(try Self.scope(access, "game.1.x") == .none)
        #expect(try Self.scope(access, "game.**") == .some)
        #expect(try Self.scope(access, "chat.*.x") == .some)
        #expect(try Self.scope(access, "chat.public.a.*") == .all)
        #expect(try Self.scope(access, "**") == .some)
        #expect(try Self.scope(access, "admin.*") == .none)
        #expect(try access?.mayRead(Topic("lobby")) == true)
        #expect(try access?.mayRead(Topic("lobby.x")) == false)
    }

    @Test func namespaceWildcardsAreJudgedLikeOtherPatterns() throws {
        let claims = try Self.access(user: "ann", subscribe: ["chat:*", "game:**"])
        #expect(try Self.scope(claims, "chat:*") == .all)
        #expect(try Self.scope(claims, "chat:general") == .all)
        #expect(try Self.scope(claims, "chat:**") == .some)
        #expect(try Self.scope(claims, "game:lobby:*.moves") == .all)
        #expect(try Self.scope(claims, "news:*") == .none)
        let namespaces = ["user": NamespaceOptions(userScoped: true), "secret": NamespaceOptions(anonymousSubscribe: false)]
        let alice = try Self.access(user: "alice", namespaces: namespaces)
        // The owner follows `user:`, so `user:*` reaches other users' topics: checked per delivery.
        #expect(try Self.scope(alice, "user:*") == .some)
        #expect(try Self.scope(alice, "user:**") == .some)
        #expect(try alice?.mayRead(Topic("user:alice")) == true)
        #expect(try alice?.mayRead(Topic("user:bob")) == false)
        let anonymous = try Self.access(user: nil, namespaces: namespaces)
        #expect(try Self.scope(anonymous, "secret:*") == .none)
        #expect(try Self.scope(anonymous, "user:*") == .none)
    }

    @Test func userScopedNamespaces() throws {
        let namespaces = ["user": NamespaceOptions(userScoped: true), "inbox": NamespaceOptions(userScoped: true)]
        let alice = try Self.access(user: "alice", namespaces: namespaces)
        #expect(try Self.scope(alice, "user:alice") == .all)
        #expect(try Self.scope(alice, "user:alice.*") == .all)
        #expect(try Self.scope(alice, "user:bob.*") == .none)
        #expect(try Self.scope(alice, "inbox.alice.**") == .all)
        #expect(try Self.scope(alice, "inbox.bob") == .none)
        #expect(try Self.scope(alice, "inbox.*") == .some)
        #expect(try Self.scope(alice, "*.alice") == .some)
        #expect(try alice?.mayRead(Topic("inbox.alice.mail")) == true)
        #expect(try alice?.mayRead(Topic("inbox.alicex")) == false)
        #expect(try alice?.mayRead(Topic("inbox")) == false)
        #expect(try alice?.publishDenial(for: Topic("user:alice")) == nil)
        #expect(try alice?.publishDenial(for: Topic("user:bob"))?.code == .forbidden)
        let anonymous = try Self.access(user: nil, namespaces: namespaces)
        #expect(try Self.scope(anonymous, "user:alice") == .none)
        #expect(try Self.scope(anonymous, "inbox.*") == .none)
    }

    /// `user_scoped_under: "user"` (the messages resource's namespace): `messages.user.{u}…`
    /// belongs to `u`; `messages` and `messages.channel.…` are not scoped.
    @Test func topicsUnderASegmentBelongToTheUserNamedNext() throws {
        var messages = NamespaceOptions(publish: .server, anonymousSubscribe: false)
        messages.userScopedUnder = "user"
        let alice = try Self.access(user: "alice", namespaces: ["messages": messages])
        #expect(alice != nil)
        #expect(try alice?.mayRead(Topic("messages.user.alice")) == true)
        #expect(try alice?.mayRead(Topic("messages.user.alice.drafts")) == true)
        #expect(try alice?.mayRead(Topic("messages.user.bob")) == false)
        #expect(try alice?.mayRead(Topic("messages.user.alicex")) == false)
        #expect(try alice?.mayRead(Topic("messages:user.bob")) == false)
        #expect(try alice?.mayRead(Topic("messages")) == true)
        #expect(try alice?.mayRead(Topic("messages.user")) == true)
        #expect(try alice?.mayRead(Topic("messages.channel.general")) == true)
        #expect(try alice?.mayRead(Topic("messages.users.bob")) == true)
        #expect(try Self.scope(alice, "messages.user.alice") == .all)
        #expect(try Self.scope(alice, "messages.user.alice.*") == .all)
        #expect(try Self.scope(alice, "messages.user.bob.**") == .none)
        #expect(try Self.scope(alice, "messages.user.*") == .some)
        #expect(try Self.scope(alice, "messages.**") == .some)
        #expect(try Self.scope(alice, "messages.*.bob") == .some)
        #expect(try Self.scope(alice, "messages.channel.*") == .all)
        #expect(try Self.scope(alice, "*.user.bob") == .some)
        let anonymous = try Self.access(user: nil, namespaces: ["messages": messages])
        #expect(try Self.scope(anonymous, "messages.**") == .none)
        // Publishing is the server's here; in a namespace clients publish to, the owner rule holds.
        var inbox = NamespaceOptions()
        inbox.userScopedUnder = "to"
        let bob = try Self.access(user: "bob", namespaces: ["mail": inbox])
        #expect(try bob?.publishDenial(for: Topic("mail.to.bob")) == nil)
        #expect(try bob?.publishDenial(for: Topic("mail.to.alice"))?.code == .forbidden)
        #expect(try bob?.publishDenial(for: Topic("mail.general")) == nil)
    }

    @Test func publishPolicies() throws {
        let namespaces = ["news": NamespaceOptions(publish: .server), "chat": NamespaceOptions(publish: .authenticated)]
        let anonymous = try #require(try Self.access(user: nil, namespaces: namespaces))
        let member = try #require(try Self.access(user: "bob", publish: ["chat.*", "news.*"], namespaces: namespaces))
        #expect(try anonymous.publishDenial(for: Topic("chat.1"))?.code == .forbidden)
        #expect(try anonymous.publishDenial(for: Topic("other")) == nil)
        #expect(try member.publishDenial(for: Topic("chat.1")) == nil)
        #expect(try member.publishDenial(for: Topic("news.1"))?.message.contains("server") == true)
        #expect(try member.publishDenial(for: Topic("other"))?.message.contains("token") == true)
    }

    /// Who may send `direct`: the hub's `direct_messages` first, then the token's claims. The
    /// default (`authenticated`) refuses anonymous clients.
    @Test(arguments: [
        // (user, publish claim, direct claim, direct_messages, allowed)
        (nil, nil, nil, HubConfiguration.DirectMessages.authenticated, false),
        (nil, nil, nil, .clients, true),
        ("ann", nil, nil, .authenticated, true),
        ("ann", nil, nil, .server, false),
        ("ann", nil, true, .server, false),
        ("ann", [], nil, .authenticated, false),
        ("ann", ["chat.*"], nil, .clients, false),
        ("ann", [], true, .authenticated, true),
        ("ann", nil, false, .authenticated, false),
        ("ann", nil, false, .clients, false),
    ] as [(String?, [String]?, Bool?, HubConfiguration.DirectMessages, Bool)])
    func directPolicies(user: String?, publish: [String]?, direct: Bool?, directMessages: HubConfiguration.DirectMessages, allowed: Bool) throws {
        let access = try Self.access(user: user, publish: publish, direct: direct, directMessages: directMessages)
        let denial = access?.directDenial()
        #expect((denial == nil) == allowed, "\(denial?.message ?? "allowed")")
        #expect(denial == nil || denial?.code == .forbidden)
        #expect(HubConfiguration().directMessages == .authenticated)
    }

    @Test func namespaceOptionsParseAndDescribe() throws {
        let parsed = try NamespaceOptions.parseAll(#"{"news": {"publish": "server"}, "user": {"user_scoped": true, "anonymous_subscribe": false}}"#)
        #expect(parsed["news"] == NamespaceOptions(publish: .server))
        #expect(parsed["user"] == NamespaceOptions(anonymousSubscribe: false, userScoped: true))
        #expect(try NamespaceOptions.parseAll(NamespaceOptions.describe(parsed)) == parsed)
        #expect(throws: ConfigurationError.self) { try NamespaceOptions.parseAll(#"{"a": {"publish": "everyone"}}"#) }
        #expect(throws: ConfigurationError.self) { try NamespaceOptions.parseAll(#"{"a": {"user_scoped": 1}}"#) }
        let under = try NamespaceOptions.parseAll(#"{"messages": {"user_scoped_under": "user"}}"#)
        #expect(under["messages"]?.userScopedUnder == "user")
        #expect(try NamespaceOptions.parseAll(NamespaceOptions.describe(under)) == under)
        for bad in [#""""#, #""a.b""#, #""*""#, #""a b""#, "true"] {
            #expect(throws: ConfigurationError.self) { try NamespaceOptions.parseAll(#"{"a": {"user_scoped_under": \#(bad)}}"#) }
        }
    }

    @Test func clientAddressBehindTrustedProxies() {
        let trusted: Set<String> = ["10.0.0.1", "10.0.0.2"]
        #expect(ClientAddress.resolve(peer: "192.0.2.1", forwardedFor: ["203.0.113.5"], trustedProxies: trusted) == "192.0.2.1")
        #expect(ClientAddress.resolve(peer: "10.0.0.1", forwardedFor: ["203.0.113.5"], trustedProxies: trusted) == "203.0.113.5")
        // A client cannot pick its address by sending its own header: the rightmost untrusted hop counts.
        #expect(ClientAddress.resolve(peer: "10.0.0.1", forwardedFor: ["1.2.3.4, 203.0.113.5, 10.0.0.2"], trustedProxies: trusted) == "203.0.113.5")
        #expect(ClientAddress.resolve(peer: "10.0.0.1", forwardedFor: [], trustedProxies: trusted) == "10.0.0.1")
        #expect(ClientAddress.resolve(peer: nil, forwardedFor: ["1.2.3.4"], trustedProxies: trusted) == nil)
    }

    @Test func keyedLimiterForgetsIdleKeys() {
        let limiter = KeyedRateLimiter(rate: 2)
        #expect(limiter.take("a", now: 0).allowed)
        #expect(limiter.take("a", now: 0).allowed)
        let refused = limiter.take("a", now: 0)
        #expect(!refused.allowed && refused.retryAfter == 1)
        for index in 0..<1100 { _ = limiter.take("old\(index)", now: 5_000_000_000) }
        for index in 0..<1000 { _ = limiter.take("new\(index)", now: 10_000_000_000) }
        // Past the sweep threshold, buckets that have refilled (idle keys) are forgotten.
        #expect(limiter.trackedKeyCount == 1000)
        #expect(KeyedRateLimiter(rate: 0).take("a", now: 0).allowed)
    }

    @Test func connectionCounterCeiling() {
        let counter = ConnectionCounter(limit: 2)
        #expect(counter.acquire("x") && counter.acquire("x"))
        #expect(!counter.acquire("x"))
        counter.release("x")
        #expect(counter.acquire("x"))
        #expect(counter.count(of: "x") == 2)
        let unlimited = ConnectionCounter(limit: 0)
        #expect((0..<1000).allSatisfy { _ in unlimited.acquire("x") })
    }
}

@Suite struct SubscriptionSetTests {
    @Test func behavesLikeASetThroughEveryShape() throws {
        var subscriptions = SubscriptionSet()
        var reference = Set<TopicPattern>()
        let patterns = try ["a", "b.*", "c.**", "a", "d"].map { try TopicPattern($0) }
        for pattern in patterns {
            let inserted = subscriptions.insert(pattern)
            #expect(inserted == reference.insert(pattern).inserted)
            #expect(subscriptions.count == reference.count)
        }
        #expect(Set(subscriptions) == reference)
        for pattern in patterns + [try TopicPattern("zzz")] {
            let removed = subscriptions.remove(pattern)
            #expect(removed == (reference.remove(pattern) != nil))
            #expect(subscriptions.count == reference.count)
            #expect(Set(subscriptions) == reference)
        }
        #expect(subscriptions.isEmpty)
        let insertedAgain = subscriptions.insert(patterns[0])
        #expect(insertedAgain)
        #expect(subscriptions.contains(patterns[0]) && !subscriptions.contains(patterns[1]))
        subscriptions.removeAll()
        #expect(Array(subscriptions).isEmpty)
    }
}
