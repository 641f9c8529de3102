import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Builds the HTTP API's router and turns it into the responder a ``ChorusChildChannel`` serves HTTP requests
/// with: what Hummingbird's `Application` does around its router (the request context, a
/// 500 for an error nothing else answered, `Date` and `Server` headers).
package enum APIResponder {
    package static func make(hub: Hub, metricsExposition: MetricsExposition? = nil, logger: Logger) -> HTTPChannelHandler.Responder {
        let router = Router(context: ChorusRequestContext.self)
        router.add(middleware: APIErrorMiddleware(metrics: hub.metrics))
        router.add(middleware: CORSHeadersMiddleware(origins: OriginPolicy(allowed: hub.configuration.allowedOrigins)))
        APIRoutes(hub: hub, metricsExposition: metricsExposition).register(on: router)
        WebAssetRoutes().register(on: router)
        let responder = router.buildResponder()
        let dates = HTTPDate()
        return { request, responseWriter, channel in
            let context = ChorusRequestContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                throw error
            } catch {
                logger.debug("unanswered error in the HTTP API", metadata: ["error": "\(error)"])
                response = Response(status: .internalServerError)
            }
            response.headers[.date] = dates.now
            response.headers[.server] = "chorus"
            do {
                try await responseWriter.write(response: response.head, body: response.body)
            } catch is HTTPParserError {
                // Throwing the parser error would make the channel write a second response;
                // any other error just closes the connection.
                throw ParseErrorWhileWritingResponse()
            }
        }
    }

    private struct ParseErrorWhileWritingResponse: Error {}
}
