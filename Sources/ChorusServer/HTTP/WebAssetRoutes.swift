import Hummingbird
import NIOCore

/// Serves what is embedded at build time (see the EmbedWebAssets plugin): the browser client at
/// `/js/…`, the dashboard at `/dashboard` and the demo at `/demo`.
struct WebAssetRoutes: Sendable {
    func register(on router: Router<ChorusRequestContext>) {
        router.get("/js/:file") { _, context in
            try Self.serve("js/" + (try context.parameters.require("file")))
        }
        router.get("/dashboard") { _, _ in try Self.serve("dashboard.html") }
        router.get("/demo") { _, _ in try Self.serve("demo.html") }
        router.get("/") { _, _ in
            Response(status: .found, headers: [.location: "/demo"])
        }
    }

    static func serve(_ name: String) throws -> Response {
        guard let text = WebAssets.files[name] else {
            throw HTTPError(.notFound, message: "no such file: /\(name)")
        }
        return Response(
            status: .ok,
            headers: [.contentType: Self.contentType(of: name), .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    static func contentType(of name: String) -> String {
        if name.hasSuffix(".d.ts") { return "application/typescript; charset=utf-8" }
        if name.hasSuffix(".js") { return "text/javascript; charset=utf-8" }
        if name.hasSuffix(".html") { return "text/html; charset=utf-8" }
        if name.hasSuffix(".css") { return "text/css; charset=utf-8" }
        if name.hasSuffix(".svg") { return "image/svg+xml" }
        return "application/octet-stream"
    }
}
