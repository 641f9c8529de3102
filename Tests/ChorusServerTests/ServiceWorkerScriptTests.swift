import Foundation
import Testing

@testable import ChorusServer

@Suite struct ServiceWorkerScriptTests {
    private func configuration(of script: String) throws -> [String: Any] {
        let prefix = "self.chorusSWConfig = "
        let line = try #require(script.split(separator: "\n", maxSplits: 1).first)
        #expect(line.hasPrefix(prefix) && line.hasSuffix(";"))
        let json = line.dropFirst(prefix.count).dropLast()
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    @Test func revisionsComeFromTheContentAndGivenOnesAreKept() throws {
        let config = #"{"version": "2", "precache": ["/a", {"url": "/b", "revision": "mine"}, "/unknown.abc123.js"]}"#
        let files = ["/a": "alpha", "/b": "beta"]
        let script = try ServiceWorkerScript.render(configuration: Data(config.utf8)) { files[$0] }
        let precache = try #require(try configuration(of: script)["precache"] as? [[String: String]])
        #expect(precache == [
            ["url": "/a", "revision": ServiceWorkerScript.revision(of: "alpha")],
            ["url": "/b", "revision": "mine"],
            ["url": "/unknown.abc123.js"],
        ])
        #expect(script.contains("scope.ChorusSW = api;"), "the worker follows its configuration")
        #expect(ServiceWorkerScript.revision(of: "alpha") != ServiceWorkerScript.revision(of: "alpha!"))
    }

    @Test func badConfigurationsAreNamed() {
        for (config, message) in [
            ("[]", "must be a JSON object"),
            (#"{"precache": "/a"}"#, "\"precache\" must be an array"),
            (#"{"precache": [{"revision": "1"}]}"#, "precache[0] must be a URL"),
        ] {
            #expect { _ = try ServiceWorkerScript.render(configuration: Data(config.utf8)) { _ in nil } } throws: { error in
                "\(error)".contains(message)
            }
        }
    }

    /// The hub's own worker: every precached URL is served by the hub and so has a revision.
    @Test func theDemoWorkerRevisionsEveryPrecachedFile() throws {
        let script = try WebAssetRoutes.serviceWorker.get()
        let precache = try #require(try configuration(of: script)["precache"] as? [[String: String]])
        #expect(precache.count >= 5)
        for entry in precache {
            let url = try #require(entry["url"])
            let name = try #require(WebAssetRoutes.assetName(servedAt: url), "\(url) is not served by the hub")
            #expect(entry["revision"] == ServiceWorkerScript.revision(of: try #require(WebAssets.files[name])))
        }
    }
}
