import Crypto
public import Foundation

/// A self-contained service worker: `self.chorusSWConfig = {…};` followed by
/// clients/js/chorus-sw.js. The hub's `/chorus-sw.js` and `chorus pwa generate` both come from
/// here. Precache entries without a revision get the content hash of the file they name, so a
/// changed file changes the script's bytes, which is what makes browsers install a new version.
public enum ServiceWorkerScript {
    /// A worker configuration that cannot be used; `description` says why.
    public struct InvalidConfiguration: Error, CustomStringConvertible {
        /// What is wrong with the configuration.
        public let description: String
    }

    /// - Parameters:
    ///   - configuration: the worker's configuration, a JSON object (docs/pwa.md).
    ///   - contents: the text served at a precached URL (as written in the configuration), or
    ///     nil when unknown: that entry then keeps no revision (fine for URLs that carry a hash).
    public static func render(configuration: Data, contents: (String) -> String?) throws -> String {
        guard var object = (try? JSONSerialization.jsonObject(with: configuration)) as? [String: Any] else {
            throw InvalidConfiguration(description: "the configuration must be a JSON object")
        }
        if let precache = object["precache"] {
            guard let entries = precache as? [Any] else {
                throw InvalidConfiguration(description: "\"precache\" must be an array of URLs or {\"url\", \"revision\"} objects")
            }
            object["precache"] = try entries.enumerated().map { index, entry in
                try Self.revisioned(entry, index: index, contents: contents)
            }
        }
        let json = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        guard let script = WebAssets.files["js/chorus-sw.js"] else {
            throw InvalidConfiguration(description: "this build does not embed clients/js/chorus-sw.js")
        }
        return "self.chorusSWConfig = \(String(decoding: json, as: UTF8.self));\n\(script)"
    }

    /// The first 16 hex digits of the text's SHA-256: a revision that changes with the content.
    public static func revision(of text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    private static func revisioned(_ entry: Any, index: Int, contents: (String) -> String?) throws -> Any {
        let object: [String: Any]
        if let url = entry as? String {
            object = ["url": url]
        } else if let given = entry as? [String: Any], given["url"] is String {
            object = given
        } else {
            throw InvalidConfiguration(description: "precache[\(index)] must be a URL or an object with a \"url\" string")
        }
        guard object["revision"] == nil, let url = object["url"] as? String, let text = contents(url) else { return object }
        return object.merging(["revision": Self.revision(of: text)]) { _, new in new }
    }
}
