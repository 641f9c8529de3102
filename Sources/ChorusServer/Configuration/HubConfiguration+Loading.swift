import Foundation

extension HubConfiguration {
    /// The file read when neither `--config` nor `CHORUS_CONFIG` names one (optional).
    public static let defaultConfigFile = "chorus.json"

    /// Resolves the configuration: defaults < JSON file < environment < flags.
    ///
    /// - Parameters:
    ///   - arguments: command-line flags, `--name value` or `--name=value` (a boolean flag may stand alone).
    ///   - environment: the process environment (`CHORUS_*` variables are read).
    public static func load(arguments: [String], environment: [String: String]) throws(ConfigurationError) -> HubConfiguration {
        let flags = try Self.parseFlags(arguments)
        var configuration = HubConfiguration()

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
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ConfigurationError("configuration file '\(path)' must hold a JSON object")
            }
            object = parsed
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError("configuration file '\(path)' is not valid JSON: \(error.localizedDescription)")
        }
        let options = Dictionary(uniqueKeysWithValues: ConfigurationOption.all.map { ($0.key, $0) })
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            guard let option = options[key] else {
                throw ConfigurationError("configuration file '\(path)': unknown option '\(key)'")
            }
            try option.set(&self, from: Self.text(of: value), source: "\(path): \(key)")
        }
    }

    private static func text(of value: Any) -> String {
        switch value {
        case let bool as Bool where type(of: value) == type(of: NSNumber(value: true)): return String(bool)
        case let number as NSNumber: return number.stringValue
        case let array as [Any]: return array.map { "\($0)" }.joined(separator: ",")
        case let object as [String: Any]:
            // Object-valued options (namespaces) take JSON text, as from the environment.
            let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
            return String(decoding: data, as: UTF8.self)
        default: return "\(value)"
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
        flag == "--allow-anonymous" || flag == "--deliver-to-publisher"
    }
}
