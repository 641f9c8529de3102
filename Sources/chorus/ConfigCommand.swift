import Foundation

/// `chorus config init [--output PATH] [--force]`: writes a starter `chorus.json` with fresh
/// secrets, a few namespaces and a comment on each setting, as Centrifugo's `genconfig` does.
enum ConfigCommand {
    static let usage = """
        Usage: chorus config init [--output PATH] [--force]

          --output PATH  where to write it (default: chorus.json; '-' prints it)
          --force        replace an existing file

        The file has a fresh JWT secret and API key, so the hub it configures is not in
        development mode: mint client tokens with 'chorus token --user ID' in the same folder.
        Keys starting with '//' are comments. Every option: docs/configuration.md.
        """

    static func run(_ arguments: [String]) throws {
        guard arguments.first == "init" else { throw CommandError(Self.usage) }
        var output = "chorus.json"
        var force = false
        var index = 1
        while index < arguments.count {
            switch arguments[index] {
            case "--force":
                force = true
                index += 1
            case "--output":
                guard index + 1 < arguments.count else { throw CommandError("--output needs a value\n\n\(Self.usage)") }
                output = arguments[index + 1]
                index += 2
            default:
                throw CommandError("unknown option '\(arguments[index])'\n\n\(Self.usage)")
            }
        }
        let text = Self.starter(jwtSecret: Self.randomHex(bytes: 32), apiKey: Self.randomHex(bytes: 24))
        if output == "-" {
            print(text, terminator: "")
            return
        }
        guard force || !FileManager.default.fileExists(atPath: output) else {
            throw CommandError("\(output) exists; use --force to replace it (its secrets would change)")
        }
        // Only its owner may read it: it holds the secrets.
        guard FileManager.default.createFile(atPath: output, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CommandError("cannot write \(output)")
        }
        FileHandle.standardError.write(Data("wrote \(output); start the hub with: chorus serve\n".utf8))
    }

    static func starter(jwtSecret: String, apiKey: String) -> String {
        """
        {
          "//": "Chorus configuration. CHORUS_* environment variables and flags override it. Every option: docs/configuration.md",
          "// host": "127.0.0.1 serves this machine only; 0.0.0.0 every interface (behind TLS: docs/deployment.md)",
          "host": "127.0.0.1",
          "port": 8080,
          "// jwt_secret": "signs and verifies client tokens (HS256); mint one with: chorus token --user alice --ttl 1h",
          "jwt_secret": "\(jwtSecret)",
          "// api_key": "for backends: Authorization: Bearer <api_key> on /api/*",
          "api_key": "\(apiKey)",
          "// allowed_origins": "web pages that may connect; add your site, e.g. https://app.example.com",
          "allowed_origins": ["http://127.0.0.1:8080", "http://localhost:8080"],
          "// namespaces": "per topic namespace (the part before the first ':' or '.'): history, who may publish, user scoping",
          "namespaces": {
            "demo": {"history_size": 1000, "history_ttl": "24h"},
            "chat": {"history_size": 1000, "history_ttl": "24h", "publish": "authenticated"},
            "news": {"publish": "server"},
            "user": {"user_scoped": true, "history_size": 100}
          },
          "// data_dir": "where history is stored (SQLite)",
          "data_dir": "chorus-data"
        }

        """
    }

    private static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }
}
