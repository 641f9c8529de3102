import Hummingbird
import NIOCore

/// The request context of the HTTP API: Hummingbird's basics plus the peer address, which
/// per-address limits need.
struct ChorusRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let peerAddress: String?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.peerAddress = source.channel.remoteAddress?.ipAddress
    }
}
