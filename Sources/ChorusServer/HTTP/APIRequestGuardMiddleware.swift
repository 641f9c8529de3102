import ChorusCore
import Foundation
import Hummingbird

/// Browser requests the HTTP API refuses before doing anything: an `Origin` that
/// `allowed_origins` does not list (`403`), and a body that is not JSON (`415`). A cross-site
/// form may POST `text/plain` or form data without a CORS preflight; without this check such a
/// request would reach a development-mode hub, which takes calls without a key.
struct APIRequestGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let origins: OriginPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let origin = request.headers[.origin], !self.origins.permits(origin) {
            throw ProtocolError(.forbidden, "origin \(ProtocolError.quoted(origin)) is not allowed (allowed_origins)")
        }
        if [.post, .put, .patch].contains(request.method), let type = request.headers[.contentType], !Self.isJSON(type),
            !(request.uri.path.contains("/api/publish/") && Self.isBinary(type))
        {
            throw ProtocolError(.unsupportedMediaType, "send the body as JSON (Content-Type: application/json), not \(ProtocolError.quoted(type))")
        }
        return try await next(request, context)
    }

    /// `application/json` or `application/…+json`, parameters (`charset`) allowed.
    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = Self.mediaType(contentType)
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }

    /// `application/octet-stream`: a binary publish's body (a type no form can send without a
    /// CORS preflight).
    static func isBinary(_ contentType: String) -> Bool {
        Self.mediaType(contentType) == "application/octet-stream"
    }

    /// The type before any parameter, without the spaces and tabs HTTP allows around it,
    /// lowercased. (Foundation's `trimmingCharacters` bridged each request's header to an
    /// `NSString`.)
    static func mediaType(_ contentType: String) -> String {
        let bytes = contentType.utf8
        let end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.endIndex
        let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        guard let first = bytes[..<end].firstIndex(where: { !blank($0) }), let last = bytes[..<end].lastIndex(where: { !blank($0) }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self).lowercased()
    }
}
