import ChorusCore
import Foundation
import Testing

@testable import ChorusServer

@Suite struct ConfigurationTests {
    @Test func defaultsSuitDevelopment() throws {
        let configuration = try HubConfiguration.load(arguments: [], environment: [:])
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8080)
        #expect(configuration.pingInterval == .seconds(30))
        #expect(configuration.idleTimeout == .seconds(60))
        #expect(configuration.sseKeepAliveInterval == .seconds(15))
        #expect(configuration.maxMessageSize == 1 << 20)
        #expect(configuration.isDevelopmentMode)
        #expect(configuration.anonymousAllowed)
    }

    @Test func fileThenEnvironmentThenFlags() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("custom.json").path
        try Data(#"{"port": 9000, "ping_interval": "10s", "api_key": "from-file", "deliver_to_publisher": false, "allowed_origins": ["https://a.example", "https://b.example"], "namespaces": {"chat": {}}}"#.utf8)
            .write(to: URL(fileURLWithPath: file))

        let fromFile = try HubConfiguration.load(arguments: [], environment: ["CHORUS_CONFIG": file])
        #expect(fromFile.port == 9000)
        #expect(fromFile.pingInterval == .seconds(10))
        #expect(fromFile.apiKey == "from-file")
        #expect(fromFile.deliverToPublisher == false)
        #expect(fromFile.allowedOrigins == ["https://a.example", "https://b.example"])
        #expect(!fromFile.isDevelopmentMode)
        #expect(!fromFile.anonymousAllowed)

        let environment = ["CHORUS_CONFIG": file, "CHORUS_PORT": "9100", "CHORUS_PING_INTERVAL": "500ms"]
        let fromEnvironment = try HubConfiguration.load(arguments: [], environment: environment)
        #expect(fromEnvironment.port == 9100)
        #expect(fromEnvironment.pingInterval == .milliseconds(500))

        let fromFlags = try HubConfiguration.load(arguments: ["--port", "9200", "--ping-interval=2m", "--allow-anonymous"], environment: environment)
        #expect(fromFlags.port == 9200)
        #expect(fromFlags.pingInterval == .seconds(120))
        #expect(fromFlags.anonymousAllowed)
    }

    /// Foundation's JSON on Linux reads 0 and 1 as booleans; the file must keep them numbers.
    @Test func zeroAndOneStayNumbers() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Data(#"{"threads": 0, "port": 1, "deliver_to_publisher": false, "namespaces": {"a": {"history_size": 0}, "b": {"history_size": 1, "history_ttl": 1}}}"#.utf8)
            .write(to: URL(fileURLWithPath: file))
        let configuration = try HubConfiguration.load(arguments: [], environment: ["CHORUS_CONFIG": file])
        #expect(configuration.threads == 0)
        #expect(configuration.port == 1)
        #expect(configuration.deliverToPublisher == false)
        #expect(configuration.namespaces["a"] == NamespaceOptions(historySize: 0))
        #expect(configuration.namespaces["b"] == NamespaceOptions(historySize: 1, historyTTL: .seconds(1)))
        do {
            _ = try HubConfiguration.load(arguments: ["--namespaces", #"{"a": {"history_size": true}}"#], environment: [:])
            Issue.record("a boolean history_size was accepted")
        } catch {
            #expect(error.message.contains("history_size must be a whole number"))
        }
    }

    @Test(arguments: [
        (["--port", "70000"], "--port"),
        (["--ping-interval", "soon"], "not a duration"),
        (["--max-message-size", "0"], "not a size"),
        (["--log-level", "loud"], "is not one of"),
        (["--frobnicate", "1"], "unknown option '--frobnicate'"),
        (["--port"], "needs a value"),
        (["--config", "/nonexistent/chorus.json"], "cannot read configuration file"),
    ])
    func badValuesNameTheProblem(arguments: [String], message: String) {
        do {
            _ = try HubConfiguration.load(arguments: arguments, environment: [:])
            Issue.record("\(arguments) was accepted")
        } catch {
            #expect(error.message.contains(message), "'\(error.message)' should mention \(message)")
        }
    }

    @Test func syncChangesTTLLimitsTheChangesKeptByAge() throws {
        let configuration = try HubConfiguration.load(
            arguments: ["--namespaces", #"{"t": {"sync": true, "sync_changes_ttl": "2h"}, "u": {"sync": true, "sync_changes_ttl": 0}}"#], environment: [:])
        #expect(configuration.namespaces["t"]?.syncLimits.changesTTL == 7_200_000)
        #expect(configuration.namespaces["u"]?.syncLimits.changesTTL == nil)
        #expect(NamespaceOptions.describe(["t": configuration.namespaces["t"]!]).contains(#""sync_changes_ttl": "7200s""#))
        #expect(throws: ConfigurationError.self) {
            try HubConfiguration.load(arguments: ["--namespaces", #"{"t": {"sync_changes_ttl": "soon"}}"#], environment: [:])
        }
    }

    @Test func environmentErrorsNameTheVariable() {
        #expect(throws: ConfigurationError.self) { try HubConfiguration.load(arguments: [], environment: ["CHORUS_PORT": "x"]) }
        do {
            _ = try HubConfiguration.load(arguments: [], environment: ["CHORUS_IDLE_TIMEOUT": "-3s"])
        } catch {
            #expect(error.message.hasPrefix("CHORUS_IDLE_TIMEOUT:"))
        }
    }

    @Test func sizesAndDurationsParse() throws {
        #expect(try ValueParsing.size("64KiB") == 65536)
        #expect(try ValueParsing.size("1MiB") == 1 << 20)
        #expect(try ValueParsing.size("2MB") == 2_000_000)
        #expect(try ValueParsing.size("1234") == 1234)
        #expect(try ValueParsing.duration("250ms") == .milliseconds(250))
        #expect(try ValueParsing.duration("1.5s") == .milliseconds(1500))
        #expect(try ValueParsing.duration("1h") == .seconds(3600))
        #expect(try ValueParsing.duration("45") == .seconds(45))
        #expect(ValueParsing.formatSize(1 << 20) == "1MiB")
        #expect(ValueParsing.formatDuration(.milliseconds(1500)) == "1500ms")
    }

    /// Values at and past the edges of every numeric form: each parses or is refused, never traps
    /// (`--ping-interval 100000000000000000000` used to crash the process).
    @Test func extremeValuesAreRefusedNotTrapped() throws {
        for text in ["100000000000000000000", "1e300", "9999999999999999h", "876001h", "inf", "nan", "-0.5s", "1e-300ms"] {
            if let duration = try? ValueParsing.duration(text) {
                #expect(duration <= ValueParsing.maxDuration, "\(text)")
            }
        }
        #expect(try ValueParsing.duration("876000h") == ValueParsing.maxDuration)
        #expect(throws: ConfigurationError.self) { try ValueParsing.duration("876000.001h") }
        for text in ["9000000000000000000GiB", "9223372036854775807KiB", "9223372036854775808", "8796093022208MiB"] {
            #expect(throws: ConfigurationError.self) { try ValueParsing.size(text) }
        }
        #expect(try ValueParsing.size("8796093022207MiB") == 8_796_093_022_207 << 20)
        // A seeded walk over digits, exponents and suffixes: whatever parses stays in range.
        var generator = SystemRandomNumberGenerator()
        let pieces = ["9", "0", ".", "e", "e+", "99", "-", " ", "1"]
        let suffixes = ["", "ms", "s", "m", "h", "KiB", "MiB", "GiB", "KB", "MB", "GB", "B"]
        for _ in 0..<20_000 {
            let text = (0..<Int.random(in: 1...24, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
                + suffixes.randomElement(using: &generator)!
            if let duration = try? ValueParsing.duration(text) {
                #expect(duration >= .zero && duration <= ValueParsing.maxDuration, "\(text)")
            }
            if let size = try? ValueParsing.size(text) {
                #expect(size > 0, "\(text)")
            }
        }
    }

    @Test func everyOptionHasDistinctNamesAndADefaultThatParses() throws {
        let options = ConfigurationOption.all
        #expect(Set(options.map(\.key)).count == options.count)
        for option in options {
            #expect(option.environmentVariable == "CHORUS_" + option.key.uppercased())
            var configuration = HubConfiguration()
            if option.defaultValue != "(none)" {
                try option.set(&configuration, from: option.defaultValue, source: "test")
            }
        }
        let keys = Set(options.map(\.environmentVariable))
        for required in ["CHORUS_HOST", "CHORUS_PORT", "CHORUS_JWT_SECRET", "CHORUS_JWT_PUBLIC_KEY", "CHORUS_JWKS_FILE", "CHORUS_API_KEY", "CHORUS_PING_INTERVAL", "CHORUS_MAX_MESSAGE_SIZE"] {
            #expect(keys.contains(required), "\(required) missing")
        }
    }
}

/// docs/configuration.md must list every option with its variable, flag and default.
@Suite struct ConfigurationDocumentationTests {
    @Test func everyOptionIsDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        for option in ConfigurationOption.all {
            let row = "| `\(option.key)` | `\(option.environmentVariable)` | `\(option.flag)` | \(option.defaultValue) |"
            #expect(text.contains(row), "docs/configuration.md lacks the row for \(option.key): \(row)")
        }
    }
}
