import ChorusCore
import Hummingbird
import NIOCore

/// Turns every error of the HTTP API, unknown routes included, into the JSON error body with a
/// fitting status, so clients never have to parse an empty or HTML error.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: HubMetrics
    /// What a path without a route for the request's method answers instead (405 and `Allow`).
    let methods: RouteMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ProtocolError {
            return self.response(for: error)
        } catch let error as HTTPError where error.status == .notFound && error.body == nil {
            // No route for this method and path: a path some other method serves is a 405.
            guard let allow = self.methods.allowHeader(for: request.uri.path) else {
                return self.response(for: ProtocolError(.notFound, "no such endpoint: \(request.method) \(request.uri.path)"))
            }
            var response = self.response(
                for: ProtocolError(.badRequest, "\(request.method) is not allowed on \(request.uri.path); allowed: \(allow)")
            )
            response.status = .methodNotAllowed
            response.headers[.allow] = allow
            return response
        } catch let error as HTTPError {
            let code: ErrorCode =
                switch error.status {
                case .notFound: .notFound
                case .contentTooLarge: .tooLarge
                case .unauthorized: .unauthorized
                case .forbidden: .forbidden
                case .tooManyRequests: .rateLimited
                // A feature the hub is not configured for (Web Push without keys).
                case .conflict: .unavailable
                case .methodNotAllowed, .badRequest: .badRequest
                default: error.status.code >= 500 ? .internal : .badRequest
                }
            let message = error.body ?? error.status.reasonPhrase
            var response = self.response(for: ProtocolError(code, message))
            response.status = error.status
            return response
        } catch is NIOTooManyBytesError {
            return self.response(for: ProtocolError(.tooLarge, "request body too large"))
        } catch {
            return self.response(for: ProtocolError(.internal, "internal error"))
        }
    }

    func response(for error: ProtocolError) -> Response {
        self.metrics.error(error.code)
        var body = ByteBuffer()
        APIErrorBody.write(error, into: &body)
        var headers: HTTPFields = [.contentType: "application/json"]
        if error.code == .unauthorized {
            headers[.wwwAuthenticate] = #"Bearer realm="chorus""#
        }
        if let retryAfter = error.retryAfter {
            headers[.retryAfter] = String(retryAfter)
        }
        return Response(status: .init(code: error.code.httpStatus), headers: headers, body: .init(byteBuffer: body))
    }
}
