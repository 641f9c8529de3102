import ChorusCore
import Foundation
import NIOCore

extension HubConfiguration {
    /// The file read when neither `--config` nor `CHORUS_CONFIG` names one (optional).
    public static let defaultConfigFile = "chorus.json"

    /// Resolves the configuration: defaults < JSON file < environment < flags.
    ///
    /// - Parameters:
    ///   - arguments: command-line flags, `--name value` or `--name=value` (a boolean flag may stand alone).
    ///   - environment: the process environment (`CHORUS_*` variables are read).
    ///   - defaults: what the sources change: the library's defaults, or a program's own.
    public static func load(
        arguments: [String],
        environment: [String: String],
        defaults: HubConfiguration = HubConfiguration()
    ) throws(ConfigurationError) -> HubConfiguration {
        let flags = try Self.parseFlags(arguments)
        var configuration = defaults

        let explicitFile = flags["--config"] ?? environment["CHORUS_CONFIG"]
        let file = explicitFile ?? Self.defaultConfigFile
        if explicitFile != nil || FileManager.default.fileExists(atPath: file) {
            try configuration.apply(jsonFile: file)
        }
        for option in ConfigurationOption.all {
            if let value = environment[option.environmentVariable] {
                try option.set(&configuration, from: value, source: option.environmentVariable)
            }
        }
        for option in ConfigurationOption.all {
            if let value = flags[option.flag] {
                try option.set(&configuration, from: value, source: option.flag)
            }
        }
        return configuration
    }

    mutating func apply(jsonFile path: String) throws(ConfigurationError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read configuration file '\(path)'")
        }
        // Chorus's own strict scanner: Foundation's on Linux reads 0 and 1 as booleans.
        let object: JSONObject
        do {
            object = try JSONObject(parsing: ByteBuffer(bytes: data))
        } catch {
            throw ConfigurationError("configuration file '\(path)' is not a JSON object: \(error.description)")
        }
        let options = Dictionary(uniqueKeysWithValues: ConfigurationOption.all.map { ($0.key, $0) })
        // Keys starting with "//" are comments (`chorus config init` writes one beside each setting).
        for key in object.keys where !key.hasPrefix("//") {
            guard let option = options[key] else {
                throw ConfigurationError("configuration file '\(path)': unknown option '\(key)'")
            }
            guard let value = object[key], let text = Self.text(of: value) else {
                throw ConfigurationError("configuration file '\(path)': \(key): expected a string, number, boolean, list of strings or object")
            }
            try option.set(&self, from: text, source: "\(path): \(key)")
        }
    }

    /// The textual form of a file value, as the environment variable would give it.
    private static func text(of value: RawJSON) -> String? {
        switch value.kind {
        case .string: return value.string
        case .number, .bool: return String(buffer: value.bytes)
        case .object: return String(buffer: value.bytes)  // object-valued options take JSON text
        case .array:
            // A list of strings is comma-separated; a list of objects (event_consumers) stays JSON text.
            guard let items = try? JSONSerialization.jsonObject(with: Data(value.bytes.readableBytesView)) as? [Any] else { return nil }
            if let strings = items as? [String] { return strings.joined(separator: ",") }
            return String(buffer: value.bytes)
        case .null: return ""
        }
    }

    /// `["--port", "9000", "--allow-anonymous", "--host=::1"]` → `["--port": "9000", "--allow-anonymous": "true", "--host": "::1"]`.
    static func parseFlags(_ arguments: [String]) throws(ConfigurationError) -> [String: String] {
        let known = Set(ConfigurationOption.all.map(\.flag) + ["--config"])
        var flags: [String: String] = [:]
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            let name: String
            var value: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            } else {
                name = argument
            }
            guard known.contains(name) else {
                throw ConfigurationError("unknown option '\(name)' (see 'chorus serve --help')")
            }
            if value == nil {
                if index < arguments.endIndex, !arguments[index].hasPrefix("--") {
                    value = arguments[index]
                    index += 1
                } else if Self.isBooleanFlag(name) {
                    value = "true"
                } else {
                    throw ConfigurationError("option '\(name)' needs a value")
                }
            }
            flags[name] = value
        }
        return flags
    }

    private static func isBooleanFlag(_ flag: String) -> Bool {
        flag == "--allow-anonymous" || flag == "--deliver-to-publisher" || flag == "--echo-endpoint" || flag == "--push-allow-loopback-http"
    }
}
