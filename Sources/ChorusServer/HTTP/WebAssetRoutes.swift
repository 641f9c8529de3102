import Foundation
import Hummingbird
import NIOCore

/// Serves what is embedded at build time (see the EmbedWebAssets plugin): the browser client at
/// `/js/…`, the dashboard at `/dashboard`, the demo at `/demo` with its offline page, manifest
/// and icon, and the demo's service worker at `/chorus-sw.js`.
struct WebAssetRoutes: Sendable {
    /// Page paths and the web/ file each serves.
    static let pages = [
        "/dashboard": "dashboard.html",
        "/demo": "demo.html",
        "/offline.html": "offline.html",
        "/manifest.webmanifest": "manifest.webmanifest",
        "/icon.svg": "icon.svg",
    ]

    func register<Context: RequestContext>(on router: some RouterMethods<Context>) {
        router.get("/js/:file") { _, context in
            try Self.serve("js/" + (try context.parameters.require("file")))
        }
        for (path, file) in Self.pages {
            router.get(RouterPath(path)) { _, _ in try Self.serve(file) }
        }
        // Scope "/" is the script's own folder, so no Service-Worker-Allowed header is needed;
        // no-cache makes every update check reach the hub.
        router.get("/chorus-sw.js") { _, _ in
            Self.response(try Self.serviceWorker.get(), contentType: "text/javascript; charset=utf-8")
        }
        router.get("/") { _, _ in
            Response(status: .found, headers: [.location: "/demo"])
        }
    }

    /// web/pwa.json rendered with each precached file's content hash as its revision.
    static let serviceWorker = Result {
        try ServiceWorkerScript.render(configuration: Data((WebAssets.files["pwa.json"] ?? "{}").utf8)) { url in
            Self.assetName(servedAt: url).flatMap { WebAssets.files[$0] }
        }
    }

    /// The embedded file a URL path is answered with, if any.
    static func assetName(servedAt path: String) -> String? {
        if path.hasPrefix("/js/") { return "js/" + path.dropFirst(4) }
        return Self.pages[path]
    }

    static func serve(_ name: String) throws -> Response {
        guard let text = WebAssets.files[name] else {
            throw HTTPError(.notFound, message: "no such file: /\(name)")
        }
        return Self.response(text, contentType: Self.contentType(of: name))
    }

    private static func response(_ text: String, contentType: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: contentType, .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    static func contentType(of name: String) -> String {
        if name.hasSuffix(".d.ts") { return "application/typescript; charset=utf-8" }
        if name.hasSuffix(".js") { return "text/javascript; charset=utf-8" }
        if name.hasSuffix(".html") { return "text/html; charset=utf-8" }
        if name.hasSuffix(".css") { return "text/css; charset=utf-8" }
        if name.hasSuffix(".svg") { return "image/svg+xml" }
        if name.hasSuffix(".webmanifest") { return "application/manifest+json" }
        return "application/octet-stream"
    }
}
