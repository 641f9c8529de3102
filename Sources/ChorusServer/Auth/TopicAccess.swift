import ChorusCore

/// What one client may read and publish: its token's `subscribe`/`publish`/`direct` claims, the
/// namespace rules (`publish`, `anonymous_subscribe`, `user_scoped`, `user_scoped_under`) and the hub's
/// `direct_messages` together.
///
/// Made only for clients that something restricts; an unrestricted client carries none, so
/// its subscriptions and deliveries skip every check.
final class TopicAccess: Sendable {
    let user: String?
    let permissions: TokenPermissions
    private let namespaces: [String: NamespaceOptions]
    private let directMessages: HubConfiguration.DirectMessages

    /// How much of a pattern's topics the client may read.
    enum ReadScope: Equatable {
        case all
        /// Some: the subscription stands, and each delivery is checked.
        case some
        case none
    }

    private init(user: String?, permissions: TokenPermissions, configuration: HubConfiguration) {
        self.user = user
        self.permissions = permissions
        self.namespaces = configuration.namespaces
        self.directMessages = configuration.directMessages
    }

    /// The access of `identity`, or nil when nothing restricts it.
    static func make(for identity: Identity, configuration: HubConfiguration) -> TopicAccess? {
        let anonymous = identity.user == nil
        let namespaceRules = configuration.namespaces.values.contains {
            $0.restrictsReading(anonymous: anonymous) || $0.publish == .server || (anonymous && $0.publish == .authenticated)
        }
        let directRule = configuration.directMessages == .server || (anonymous && configuration.directMessages == .authenticated)
        guard namespaceRules || directRule || identity.permissions != .unrestricted else { return nil }
        return TopicAccess(user: identity.user, permissions: identity.permissions, configuration: configuration)
    }

    // MARK: Reading

    func mayRead(_ topic: Topic) -> Bool {
        if let options = self.namespaces[String(topic.namespace)] {
            if self.user == nil, !options.anonymousSubscribe { return false }
            if self.belongsToAnother(topic, options) { return false }
        }
        if let allowed = self.permissions.subscribe, !allowed.contains(where: { $0.matches(topic) }) { return false }
        return true
    }

    func readScope(of pattern: TopicPattern) -> ReadScope {
        if let topic = pattern.exactTopic {
            return self.mayRead(topic) ? .all : .none
        }
        var scope = self.namespaceReadScope(of: pattern)
        guard scope != .none else { return .none }
        if let allowed = self.permissions.subscribe, !allowed.contains(where: { $0.covers(pattern) }) {
            guard allowed.contains(where: { $0.overlaps(pattern) }) else { return .none }
            scope = .some
        }
        return scope
    }

    /// The namespace rules' answer for a wildcard pattern.
    private func namespaceReadScope(of pattern: TopicPattern) -> ReadScope {
        let first: String
        switch pattern.segments.first {
        case .literal(let text)?, .prefixed(let text)?, .prefixedTail(let text)?:
            first = text
        default:
            // `*.…` or `**` spans namespaces: deliveries are checked if any namespace restricts.
            let restricted = self.namespaces.values.contains { $0.restrictsReading(anonymous: self.user == nil) }
            return restricted ? .some : .all
        }
        let namespace = first.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard let options = self.namespaces[String(namespace)] else { return .all }
        if self.user == nil, !options.anonymousSubscribe { return .none }
        if !options.userScoped, let segment = options.userScopedUnder {
            return self.readScope(of: pattern, under: segment, namespace: namespace)
        }
        guard options.userScoped else { return .all }
        guard let user = self.user else { return .none }
        guard case .literal = pattern.segments[0] else {
            // `user:*`: the owner varies with the topic, so each delivery is checked.
            return .some
        }
        // The owner is in the first segment (`user:alice.*`) or is the second (`inbox.alice.*`).
        if first.count > namespace.count {
            return first.dropFirst(namespace.count + 1) == user ? .all : .none
        }
        guard pattern.segments.count > 1 else { return .none }
        switch pattern.segments[1] {
        case .literal(let owner): return owner == user ? .all : .none
        case .anySegment, .anyTail, .prefixed, .prefixedTail: return .some
        }
    }

    // MARK: Publishing

    /// Why the client may not publish to `topic`, or nil when it may.
    func publishDenial(for topic: Topic) -> ProtocolError? {
        if let options = self.namespaces[String(topic.namespace)] {
            switch options.publish {
            case .server:
                return ProtocolError(.forbidden, "topics of namespace '\(topic.namespace)' are published by the server only")
            case .authenticated where self.user == nil:
                return ProtocolError(.forbidden, "publishing to namespace '\(topic.namespace)' needs an authenticated client")
            case .authenticated, .clients:
                break
            }
            if self.belongsToAnother(topic, options) {
                return ProtocolError(.forbidden, "topic '\(topic.name)' belongs to another user")
            }
        }
        if let allowed = self.permissions.publish, !allowed.contains(where: { $0.matches(topic) }) {
            return ProtocolError(.forbidden, "this token does not allow publishing to '\(topic.name)'")
        }
        return nil
    }

    /// Why the client may not send a `direct` message, or nil when it may.
    func directDenial() -> ProtocolError? {
        switch self.directMessages {
        case .server:
            return ProtocolError(.forbidden, "direct messages are sent by the server only (direct_messages: server)")
        case .authenticated where self.user == nil:
            return ProtocolError(.forbidden, "sending direct messages needs an authenticated client (direct_messages: authenticated)")
        case .authenticated, .clients:
            break
        }
        guard self.permissions.allowsDirect else {
            let reason = self.permissions.direct == false ? "its 'direct' claim is false" : "it restricts 'publish' and has no \"direct\": true claim"
            return ProtocolError(.forbidden, "this token does not allow direct messages: \(reason)")
        }
        return nil
    }

    /// For `user_scoped_under: segment`: whether `pattern` (in `namespace`) can cover topics of
    /// other users (`<namespace>.<segment>.<user>…`); when unsure, each delivery is checked.
    private func readScope(of pattern: TopicPattern, under segment: String, namespace: Substring) -> ReadScope {
        let segments = pattern.segments
        guard case .literal(let first) = segments[0], first == namespace, segments.count > 1 else { return .some }
        switch segments[1] {
        case .literal(let second) where second != segment:
            return .all
        case .literal:
            guard segments.count > 2 else { return .all }
            guard case .literal(let owner) = segments[2] else { return .some }
            return self.user.map { owner == $0 } == true ? .all : .none
        case .anySegment, .anyTail, .prefixed, .prefixedTail:
            return .some
        }
    }

    /// Whether `topic` belongs to a user other than this client's: in a `user_scoped` namespace
    /// every topic belongs to the user named after the namespace and its separator; with
    /// `user_scoped_under: segment`, the topics `<namespace>.<segment>.<user>…` do.
    private func belongsToAnother(_ topic: Topic, _ options: NamespaceOptions) -> Bool {
        let rest = topic.name[topic.namespace.endIndex...].dropFirst()
        if options.userScoped, !self.isOwner(rest) { return true }
        if let segment = options.userScopedUnder, rest.hasPrefix(segment + "."), !self.isOwner(rest.dropFirst(segment.count + 1)) {
            return true
        }
        return false
    }

    /// Whether `rest`'s first segment (up to the next `.`) is this client's user.
    private func isOwner(_ rest: Substring) -> Bool {
        guard let user = self.user else { return false }
        return rest.prefix { $0 != "." } == user
    }
}

extension Optional where Wrapped == TopicAccess {
    /// Checks a subscription; true when its deliveries must be checked topic by topic.
    func authorizeSubscription(to pattern: TopicPattern) throws(ProtocolError) -> Bool {
        guard let access = self else { return false }
        switch access.readScope(of: pattern) {
        case .all: return false
        case .some: return true
        case .none: throw ProtocolError(.forbidden, "not allowed to subscribe to '\(pattern.text)'")
        }
    }

    func mayRead(_ topic: Topic) -> Bool {
        self?.mayRead(topic) ?? true
    }

    func authorizePublish(to topic: Topic) throws(ProtocolError) {
        if let denial = self?.publishDenial(for: topic) { throw denial }
    }

    func authorizeDirect() throws(ProtocolError) {
        if let denial = self?.directDenial() { throw denial }
    }
}
