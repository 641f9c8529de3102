import ChorusJWT
import ChorusServer
import Foundation

/// `chorus token --user alice --ttl 1h`: a development and scripting aid that signs an HS256
/// token with the secret the hub is configured with (same sources as `serve`).
enum TokenCommand {
    static func run(_ arguments: [String]) throws {
        var user: String?
        var ttl: Duration? = .seconds(3600)
        var configurationArguments: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            let value = index + 1 < arguments.endIndex ? arguments[index + 1] : nil
            switch argument {
            case "--user":
                guard let value else { throw CommandError("--user needs a value") }
                user = value
                index += 2
            case "--ttl":
                guard let value else { throw CommandError("--ttl needs a value such as 30m, 1h or 0 (no expiry)") }
                let parsed = try HubConfiguration.parseDuration(value)
                ttl = parsed == .zero ? nil : parsed
                index += 2
            case "--help", "-h":
                print("Usage: chorus token --user ID [--ttl 1h] [--jwt-secret SECRET | --config PATH]\nTTL 0 means no expiry.")
                return
            default:
                configurationArguments.append(argument)
                index += 1
            }
        }
        guard let user, !user.isEmpty else { throw CommandError("--user is required") }
        let configuration = try HubConfiguration.load(arguments: configurationArguments, environment: Console.environment())
        guard let secret = configuration.jwtSecret else {
            throw CommandError("no JWT secret configured: set CHORUS_JWT_SECRET or pass --jwt-secret")
        }
        let expiresAt = ttl.map { Int64(Date().timeIntervalSince1970.rounded(.down)) + $0.components.seconds }
        print(HS256TokenSigner(secret: secret).token(subject: user, expiresAt: expiresAt))
    }
}
