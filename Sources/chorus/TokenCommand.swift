import ChorusCore
import ChorusJWT
import ChorusServer
import Foundation
import NIOCore

/// `chorus token --user alice --ttl 1h`: a development and scripting aid that signs an HS256
/// token with the secret the hub is configured with (same sources as `serve`).
enum TokenCommand {
    static let usage = """
        Usage: chorus token --user ID [--ttl 1h] [--subscribe PATTERN]... [--publish PATTERN]...
                            [--claim NAME=VALUE]... [--jwt-secret SECRET | --config PATH]

          --user ID            the token's subject ('sub'): the user id clients act as
          --ttl DURATION       lifetime, such as 30m or 1h (default 1h); 0 means no expiry
          --subscribe PATTERN  a topic or pattern the token may subscribe to (repeat for more);
                               without it, the token does not restrict subscribing
          --publish PATTERN    a topic or pattern the token may publish to (repeat for more);
                               --claim publish=[] makes a token that may not publish
          --claim NAME=VALUE   any other claim; VALUE is JSON when it parses as JSON, else a string
                               (--claim iss=my-app --claim 'aud=["chorus"]')

        The secret comes from --jwt-secret, CHORUS_JWT_SECRET or the configuration file, as for
        'chorus serve'.
        """

    static func run(_ arguments: [String]) throws {
        var user: String?
        var ttl: Duration? = .seconds(3600)
        var subscribe: [String] = []
        var publish: [String] = []
        var claims: [(name: String, json: String)] = []
        var configurationArguments: [String] = []
        var scanner = ArgumentScanner(arguments, usage: Self.usage)
        while let argument = scanner.next() {
            switch argument {
            case "--user": user = try scanner.value(of: argument)
            case "--ttl":
                do {
                    let parsed = try HubConfiguration.parseDuration(try scanner.value(of: argument))
                    ttl = parsed == .zero ? nil : parsed
                } catch let error as ConfigurationError {
                    throw CommandError("--ttl: \(error.message)")
                }
            case "--subscribe": subscribe.append(try Self.pattern(try scanner.value(of: argument), option: argument))
            case "--publish": publish.append(try Self.pattern(try scanner.value(of: argument), option: argument))
            case "--claim": claims.append(try Self.claim(try scanner.value(of: argument)))
            case "--help", "-h":
                print(Self.usage)
                return
            case "--jwt-secret", "--config":
                configurationArguments.append(argument)
                if let value = scanner.next() { configurationArguments.append(value) }
            default:
                guard argument.hasPrefix("--jwt-secret=") || argument.hasPrefix("--config=") else {
                    throw CommandError("token: unknown option '\(argument)'\n\n\(Self.usage)")
                }
                configurationArguments.append(argument)
            }
        }
        guard let user, !user.isEmpty else { throw CommandError("--user is required\n\n\(Self.usage)") }
        for (name, list) in [("subscribe", subscribe), ("publish", publish)] where !list.isEmpty {
            guard !claims.contains(where: { $0.name == name }) else {
                throw CommandError("--\(name) and --claim \(name)=… both name the '\(name)' claim: use one")
            }
            var json = ByteBuffer()
            json.writeStaticString("[")
            for (index, pattern) in list.enumerated() {
                if index > 0 { json.writeStaticString(",") }
                json.writeJSONString(pattern)
            }
            json.writeStaticString("]")
            claims.append((name, String(buffer: json)))
        }
        let configuration = try HubConfiguration.load(arguments: configurationArguments, environment: Console.environment())
        guard let secret = configuration.jwtSecret else {
            throw CommandError("no JWT secret configured: set CHORUS_JWT_SECRET or pass --jwt-secret")
        }
        let expiresAt = ttl.map { Int64(Date().timeIntervalSince1970.rounded(.down)) + $0.components.seconds }
        print(HS256TokenSigner(secret: secret).token(subject: user, expiresAt: expiresAt, claims: claims))
    }

    private static func pattern(_ text: String, option: String) throws -> String {
        do {
            return try TopicPattern(text).text
        } catch {
            throw CommandError("\(option): invalid topic or pattern '\(text)': \(error.description)")
        }
    }

    /// `name=value`: the value as written when it is JSON, else as a JSON string.
    private static func claim(_ text: String) throws -> (name: String, json: String) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw CommandError("--claim: expected NAME=VALUE, got '\(text)'")
        }
        let name = String(text[..<equals])
        let value = String(text[text.index(after: equals)...])
        guard name != "sub", name != "exp" else {
            throw CommandError("--claim: set '\(name)' with --\(name == "sub" ? "user" : "ttl")")
        }
        // Parsed inside an object, as the scanner reads objects; one value that parses is kept
        // verbatim (`1,"x":2` parses too, as two members, and is taken as a string).
        if let object = try? JSONObject(parsing: ByteBuffer(string: #"{"v":"# + value + "}")), object.count == 1,
            let parsed = object["v"]
        {
            return (name, String(buffer: parsed.bytes))
        }
        var json = ByteBuffer()
        json.writeJSONString(value)
        return (name, String(buffer: json))
    }
}
