import Foundation
import PackagePlugin

/// Embeds the files the hub serves (`clients/js/*.js`, `clients/js/*.d.ts`, `web/*`) into the
/// ChorusServer module, so a built `chorus` binary serves its client, dashboard and demo with
/// nothing installed beside it.
@main
struct EmbedWebAssets: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let root = context.package.directoryURL
        var inputs: [URL] = []
        for (folder, prefix) in [("clients/js", "js/"), ("web", "")] {
            let directory = root.appending(path: folder)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names.sorted() where Self.isServed(name, prefix: prefix) {
                inputs.append(directory.appending(path: name))
            }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "WebAssets.swift")
        var arguments = [output.path]
        for input in inputs {
            let folder = input.deletingLastPathComponent().lastPathComponent
            let name = (folder == "js" ? "js/" : "") + input.lastPathComponent
            arguments += [name, input.path]
        }
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) web assets",
                executable: try context.tool(named: "AssetEmbedder").url,
                arguments: arguments,
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }

    private static func isServed(_ name: String, prefix: String) -> Bool {
        if prefix == "js/" { return name.hasSuffix(".js") || name.hasSuffix(".d.ts") }
        return [".html", ".css", ".js", ".svg", ".ico", ".json", ".webmanifest"].contains { name.hasSuffix($0) }
    }
}
