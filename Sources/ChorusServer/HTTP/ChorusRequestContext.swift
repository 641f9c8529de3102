import Hummingbird
import NIOCore

/// The request context of `chorus serve`'s HTTP API: Hummingbird's basics plus the peer
/// address, which per-address limits need (an application mounting the API in its own router
/// gives its context the same).
struct ChorusRequestContext: RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}
