import ChorusServer
import Foundation

/// `chorus pwa generate --config pwa.json [--root DIR] > sw.js`: a self-contained service worker
/// (its configuration inlined) for an app served from another origin than the hub.
enum PWACommand {
    static let usage = """
        Usage: chorus pwa generate --config PATH [--root DIR] > sw.js

          --config PATH  the worker's configuration, a JSON object (docs/pwa.md)
          --root DIR     the folder the app's URLs are served from: a precache entry without a
                         revision gets the content hash of DIR/<its path>, so a changed file makes
                         a new worker version. Without it, entries keep the revisions they have.
        """

    static func run(_ arguments: [String]) throws {
        guard arguments.first == "generate" else { throw CommandError(Self.usage) }
        var config: String?
        var root: String?
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            guard argument == "--config" || argument == "--root" else {
                throw CommandError("unknown option '\(argument)'\n\n\(Self.usage)")
            }
            guard index + 1 < arguments.count else { throw CommandError("\(argument) needs a value\n\n\(Self.usage)") }
            if argument == "--config" { config = arguments[index + 1] } else { root = arguments[index + 1] }
            index += 2
        }
        guard let config else { throw CommandError("--config is required\n\n\(Self.usage)") }
        guard let data = FileManager.default.contents(atPath: config) else {
            throw CommandError("cannot read the configuration file \(config)")
        }
        do {
            let script = try ServiceWorkerScript.render(configuration: data) { url in
                guard let root, let path = URLComponents(string: url)?.path, path.hasPrefix("/") else { return nil }
                return try? String(contentsOfFile: root + path, encoding: .utf8)
            }
            print(script, terminator: "")
        } catch let error as ServiceWorkerScript.InvalidConfiguration {
            throw CommandError("\(config): \(error.description)")
        }
    }
}
