import ChorusCore

extension ClientFrame {
    /// The `type` the frame is routed by (`message` is an alias of `publish`).
    var type: String {
        switch self {
        case .auth: "auth"
        case .subscribe: "subscribe"
        case .unsubscribe: "unsubscribe"
        case .publish: "publish"
        case .ping: "ping"
        case .presence: "presence"
        case .presenceJoin: "presence_join"
        case .presenceUpdate: "presence_update"
        case .presenceLeave: "presence_leave"
        case .presenceStats: "presence_stats"
        case .signal: "signal"
        case .direct: "direct"
        case .syncSubscribe: "sync_subscribe"
        case .syncUnsubscribe: "sync_unsubscribe"
        case .syncMutate: "sync_mutate"
        case .eventPublish: "event_publish"
        case .custom(let type, _): type
        }
    }

    /// The `unknown_type` error for a protocol frame whose feature this hub does not have.
    var unservedError: ProtocolError {
        switch self {
        case .presence, .presenceJoin, .presenceUpdate, .presenceLeave, .presenceStats, .signal:
            ProtocolError(.unknownType, "presence is not available in this version of the hub")
        case .syncSubscribe, .syncUnsubscribe, .syncMutate:
            ProtocolError(.unknownType, "sync collections are not available on this hub (no namespace has \"sync\": true)")
        case .eventPublish:
            ProtocolError(.unknownType, "this hub does not run the event bus (events: false)")
        default:
            ProtocolError(.unknownType, "'\(self.type)' frames are not available in this version of the hub")
        }
    }
}
