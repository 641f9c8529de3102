import HTTPTypes
import Hummingbird
import NIOConcurrencyHelpers

/// Which methods each route of the HTTP API answers, so a known path asked with another method
/// gets `405` and `Allow` (RFC 9110, 15.5.6) rather than a `404` that says the path is unknown.
///
/// Filled once the routes are registered; read only when no route answered a request.
final class RouteMethods: Sendable {
    private let routes = NIOLockedValueBox<[(path: RouterPath, methods: Set<HTTPRequest.Method>)]>([])

    /// Records every route of `router` (call after the last route is added).
    func record<Context>(_ router: Router<Context>) {
        var byPath: [String: (path: RouterPath, methods: Set<HTTPRequest.Method>)] = [:]
        for route in router.routes {
            byPath[route.path.description, default: (route.path, [])].methods.insert(route.method)
        }
        self.routes.withLockedValue { $0 = Array(byPath.values) }
    }

    /// The methods some route of `path` answers, as an `Allow` value; nil when no route has that path.
    func allowHeader(for path: String) -> String? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var methods = Set<HTTPRequest.Method>()
        for route in self.routes.withLockedValue({ $0 }) where Self.matches(route.path, segments) {
            methods.formUnion(route.methods)
        }
        guard !methods.isEmpty else { return nil }
        // The router answers HEAD wherever it answers GET (`autoGenerateHeadEndpoints`).
        if methods.contains(.get) { methods.insert(.head) }
        return methods.map(\.rawValue).sorted().joined(separator: ", ")
    }

    private static func matches(_ route: RouterPath, _ segments: [Substring]) -> Bool {
        for (index, element) in route.components.enumerated() {
            if element.description == "**" { return true }
            guard index < segments.count, element ~= segments[index] else { return false }
        }
        return route.components.count == segments.count
    }
}
