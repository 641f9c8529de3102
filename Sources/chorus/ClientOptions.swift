import ChorusClient
import Foundation

/// The options `chorus sub` and `chorus pub` share: where the hub is and who the client is.
struct ClientOptions {
    static let usage = """
          --url URL            the hub's WebSocket URL (repeat for several, tried in turn);
                               default CHORUS_URL or ws://127.0.0.1:8080/ws
          --token JWT          a client token; default CHORUS_TOKEN
        """

    var urls: [String] = []
    var token: String?

    /// Takes `--url` or `--token` and its value when `argument` is one of them.
    mutating func take(_ argument: String, from scanner: inout ArgumentScanner) throws -> Bool {
        switch argument {
        case "--url": self.urls.append(try scanner.value(of: argument))
        case "--token": self.token = try scanner.value(of: argument)
        default: return false
        }
        return true
    }

    /// The URLs to use, with the environment's defaults.
    var resolvedURLs: [String] {
        if !self.urls.isEmpty { return self.urls }
        return [Console.environment()["CHORUS_URL"] ?? "ws://127.0.0.1:8080/ws"]
    }

    var resolvedToken: String? {
        self.token ?? Console.environment()["CHORUS_TOKEN"]
    }

    /// A client for these options; nil `maxReconnectAttempts`: it never gives up.
    func client(maxReconnectAttempts: Int? = nil) throws -> ChorusClient {
        var configuration = ChorusClient.Configuration()
        configuration.token = self.resolvedToken
        configuration.maxReconnectAttempts = maxReconnectAttempts
        do {
            return try ChorusClient(urls: self.resolvedURLs, configuration: configuration)
        } catch let error as ChorusClientError {
            throw CommandError(error.message)
        }
    }
}
