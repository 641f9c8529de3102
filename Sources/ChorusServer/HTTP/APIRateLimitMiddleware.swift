import ChorusCore
import Hummingbird

/// `max_api_rate_per_key` for `/api/…`: a budget per API key, and per client address for every
/// other caller (client tokens, development mode), checked before any credential is verified.
/// It sits on the `/api` route group, so whatever reaches an API handler has passed it.
struct APIRateLimitMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let limits: HubLimits
    let apiKey: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !self.limits.isAPIUnlimited else {
            return try await next(request, context)
        }
        try self.limits.admitAPIRequest(key: self.key(of: request, context: context))
        return try await next(request, context)
    }

    private func key(of request: Request, context: Context) -> String {
        if let apiKey, let authorization = request.headers[.authorization],
            Authenticator.constantTimeEqual(authorization, "Bearer " + apiKey)
        {
            return "api-key"
        }
        let forwardedFor = request.headers[values: .init("X-Forwarded-For")!]
        return "address:" + (self.limits.clientAddress(peer: context.remoteAddress?.ipAddress, forwardedFor: forwardedFor) ?? "")
    }
}
