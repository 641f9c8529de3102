import ChorusCore

/// The hub's features, and which one serves each client frame type.
struct ConnectionFeatures: Sendable {
    struct Route: Sendable {
        let feature: any ConnectionFeature
        let limit: LimitKind?
    }

    /// In the order their hooks run.
    let all: [any ConnectionFeature]
    private let routes: [String: Route]
    /// Serves the types no feature claims: the application's handlers, or `unknown_type`.
    private let custom: Route

    init(_ features: [any ConnectionFeature], custom: CustomFramesFeature) {
        self.all = features + [custom]
        var routes: [String: Route] = [:]
        for feature in features {
            for frame in feature.frames {
                precondition(routes[frame.type] == nil, "two features serve '\(frame.type)' frames")
                routes[frame.type] = Route(feature: feature, limit: frame.limit)
            }
        }
        self.routes = routes
        // Custom frames send messages as `publish` does, and count against the same rate.
        self.custom = Route(feature: custom, limit: .publishRatePerConnection)
    }

    /// What every hub serves: pub/sub, history recovery, direct messages, presence and sync when
    /// some namespace has them, and `handlers` for the application's own frame types.
    static func standard(customHandlers handlers: [String: CustomFrameHandler], presence: Bool = false, sync: Bool = false, events: Bool = false) -> ConnectionFeatures {
        // Signalling finds its peers through presence, so it comes with it.
        let presence: [any ConnectionFeature] = presence ? [PresenceFeature(), SignalFeature()] : []
        let sync: [any ConnectionFeature] = sync ? [SyncFeature()] : []
        let events: [any ConnectionFeature] = events ? [EventPublishFeature()] : []
        return ConnectionFeatures([PubSubFeature(), HistoryFeature(), DirectFeature()] + presence + sync + events, custom: CustomFramesFeature(handlers: handlers))
    }

    /// The route of `frame`; nil for a protocol frame no feature of this hub serves.
    func route(for frame: ClientFrame) -> Route? {
        if let route = self.routes[frame.type] { return route }
        if case .custom = frame { return self.custom }
        return nil
    }

    /// Runs every feature's subscribe hook; false when none answered the `subscribe`.
    func subscribed(to pattern: TopicPattern, since: RecoveryPosition?, id: RawJSON?, on connection: WebSocketConnection) -> Bool {
        for feature in self.all where feature.subscribed(to: pattern, since: since, id: id, on: connection) {
            return true
        }
        return false
    }

    func unsubscribed(from pattern: TopicPattern, on connection: WebSocketConnection) {
        for feature in self.all { feature.unsubscribed(from: pattern, on: connection) }
    }

    func closed(_ connection: WebSocketConnection) {
        for feature in self.all { feature.closed(connection) }
    }
}
