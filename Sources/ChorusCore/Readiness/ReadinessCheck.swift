/// One dependency the hub needs to serve everything it offers (PostgreSQL, Redis, …), as
/// `GET /ready` reports it. Liveness (`/health`) never asks these.
///
/// An engine module implements it beside its client, so the server can report the engine
/// without knowing it; the hub runs every registered check for each `/ready` request.
public protocol ReadinessCheck: Sendable {
    /// The key of the check in `/ready`'s `checks` object, e.g. `postgres`.
    var name: String { get }

    /// Returns when the dependency answers; throws an error whose description says, for an
    /// operator, what is wrong (no secrets). It must return or throw within a few seconds.
    func checkReady() async throws
}
