import Hummingbird

/// CORS for the HTTP API from `allowed_origins`: answers preflights and marks responses.
struct CORSHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let origins: OriginPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let origin = request.headers[.origin]
        guard origin != nil, let allowOrigin = self.origins.allowOriginHeader(for: origin) else {
            return try await next(request, context)
        }
        var response: Response
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            response = Response(status: .noContent)
            response.headers[.accessControlAllowMethods] = "GET, POST, OPTIONS"
            response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type, Accept, Last-Event-ID"
            response.headers[.accessControlMaxAge] = "600"
        } else {
            response = try await next(request, context)
        }
        response.headers[.accessControlAllowOrigin] = allowOrigin
        if allowOrigin != "*" { response.headers[.vary] = "Origin" }
        return response
    }
}
