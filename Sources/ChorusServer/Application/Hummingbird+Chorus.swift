public import Hummingbird
public import HummingbirdCore

/// Chorus inside an application's own Hummingbird `Application`: its routes, middleware and
/// port, with Chorus's transports and HTTP API beside them (docs/embedding.md).
///
/// ```swift
/// router.addChorusRoutes(hub)
/// let app = Application(router: router, server: .chorus(hub), eventLoopGroupProvider: .shared(group))
/// ```
extension HTTPServerBuilder {
    /// Serves the application's router and Chorus's transports on the application's port:
    /// `GET /ws` becomes a WebSocket connection of `hub`, `GET /sse` an SSE stream (and `/echo`
    /// when `echo_endpoint` is on); every other request goes to the application's router.
    ///
    /// The `Application` must run on the event loop group the hub was made with (its
    /// `eventLoopGroupProvider`), and the hub must run too: put it before the application in
    /// their `ServiceGroup`, so the application stops accepting (clients get `disconnect` +
    /// 1001) before the hub stops. The application decides where it listens: a hub with no
    /// credential configured accepts anyone who reaches that address.
    public static func chorus(_ hub: Hub) -> HTTPServerBuilder {
        .init { responder in ChorusChildChannel(responder: responder, hub: hub) }
    }
}

extension RouterMethods where Context: RemoteAddressRequestContext {
    /// Adds Chorus's HTTP API (`/health`, `/ready`, `/metrics`, `/api/…`) and its web assets
    /// (`/js/…`, `/dashboard`, `/demo`, `/`, …) in a group of their own, so the JSON errors and
    /// CORS headers of Chorus apply to them and not to the application's routes. Unknown paths
    /// and CORS preflights stay the application's to answer.
    ///
    /// The context must give the client's address (`RemoteAddressRequestContext`): the API's
    /// per-address rate limit needs it.
    ///
    /// - Parameters:
    ///   - events: the hub's event bus (``EventBus/init(hub:openStore:webhooks:liveNodes:waitForStore:metricsFactory:logger:)``),
    ///     which `/api/events/…` serves; nil: those answer `not_found`.
    ///   - metricsExposition: what `GET /metrics` serves (nil: no `/metrics` route, for
    ///     an application that exports the hub's metrics its own way).
    @discardableResult
    public func addChorusRoutes(_ hub: Hub, events: EventBus? = nil, metricsExposition: MetricsExposition? = nil) -> Self {
        APIResponder.addRoutes(of: hub, to: self.group(), events: events, metricsExposition: metricsExposition)
        return self
    }
}
