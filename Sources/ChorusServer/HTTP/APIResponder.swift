import Hummingbird
package import HummingbirdCore
package import Logging
package import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Builds the HTTP API's router and turns it into the responder a ``ChorusChildChannel`` serves HTTP requests
/// with: what Hummingbird's `Application` does around its router (the request context, a
/// 500 for an error nothing else answered, `Date` and `Server` headers).
package enum APIResponder {
    package static func make(hub: Hub, events: EventBus? = nil, messages: MessagesService? = nil, metricsExposition: MetricsExposition? = nil, logger: Logger) -> HTTPChannelHandler.Responder {
        let router = Router(context: ChorusRequestContext.self, options: .autoGenerateHeadEndpoints)
        let methods = RouteMethods()
        // On the router itself, so unknown paths get the JSON 404 (or 405) and CORS preflights an answer.
        Self.addRoutes(of: hub, to: router, events: events, messages: messages, metricsExposition: metricsExposition, methods: methods)
        methods.record(router)
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

    /// The HTTP API and the web assets, with the middleware that turns their errors into JSON
    /// bodies and adds CORS headers; the middleware applies to what is added here, after it.
    /// - Parameter methods: the routes' methods once recorded, for `405`s; left empty when
    ///   Chorus is mounted in an application, whose router answers paths it does not know.
    static func addRoutes<Context: RemoteAddressRequestContext>(
        of hub: Hub,
        to routes: some RouterMethods<Context>,
        events: EventBus? = nil,
        messages: MessagesService? = nil,
        metricsExposition: MetricsExposition?,
        methods: RouteMethods = RouteMethods()
    ) {
        let routes = routes
            .add(middleware: APIErrorMiddleware(metrics: hub.metrics, methods: methods))
            .add(middleware: CORSHeadersMiddleware(origins: OriginPolicy(allowed: hub.configuration.allowedOrigins)))
        APIRoutes(hub: hub, metricsExposition: metricsExposition, events: events, messages: messages).register(on: routes)
        WebAssetRoutes().register(on: routes)
    }

    private struct ParseErrorWhileWritingResponse: Error {}
}
