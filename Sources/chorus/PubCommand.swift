import ChorusClient
import ChorusCore
import Foundation
import NIOCore

/// `chorus pub TOPIC DATA`: publishes one message over WebSocket (or `--http`) and prints the
/// hub's receipt as JSON.
enum PubCommand {
    static let usage = """
        Usage: chorus pub TOPIC DATA [--event NAME] [--key IDEMPOTENCY_KEY] [--http [--api-key KEY]]
                                     [--url URL]... [--token JWT]

        DATA is sent as JSON when it parses as JSON, otherwise as a JSON string. Prints the
        receipt ({"message_id":…, "offset":…, "epoch":…}) on standard output.
          --event NAME         the event name (default: message)
          --key KEY            an idempotency key: a retry with it is not delivered twice
          --http               publish through POST /api/publish instead of a WebSocket
          --api-key KEY        with --http: the API key (default CHORUS_API_KEY; else the token)
        \(ClientOptions.usage)
        """

    static func run(_ arguments: [String]) async throws {
        var options = ClientOptions()
        var positional: [String] = []
        var event = "message"
        var key: String?
        var http = false
        var apiKey = Console.environment()["CHORUS_API_KEY"]
        var scanner = ArgumentScanner(arguments, usage: Self.usage)
        while let argument = scanner.next() {
            if try options.take(argument, from: &scanner) { continue }
            switch argument {
            case "--event": event = try scanner.value(of: argument)
            case "--key": key = try scanner.value(of: argument)
            case "--api-key": apiKey = try scanner.value(of: argument)
            case "--http": http = true
            case "--help", "-h":
                print(Self.usage)
                return
            default:
                guard !argument.hasPrefix("-") || positional.count == 1 else {
                    throw CommandError("unknown option '\(argument)'\n\n\(Self.usage)")
                }
                positional.append(argument)
            }
        }
        guard positional.count == 2 else { throw CommandError("give a TOPIC and DATA\n\n\(Self.usage)") }
        let data = try (try? RawJSON.parsing(positional[1])) ?? Self.jsonString(positional[1])
        let receipt: PublishAck
        do {
            if http {
                let endpoint = try HubEndpoint(options.resolvedURLs[0])
                receipt = try await HubHTTP.publish(
                    endpoint, topic: positional[0], event: event, data: data, idempotencyKey: key, bearer: apiKey ?? options.resolvedToken
                )
            } else {
                receipt = try await Self.publishOverWebSocket(options, topic: positional[0], event: event, data: data, key: key)
            }
        } catch let error as ChorusClientError {
            throw CommandError(error.description)
        }
        print(Self.json(receipt))
    }

    static func publishOverWebSocket(_ options: ClientOptions, topic: String, event: String, data: RawJSON, key: String?) async throws -> PublishAck {
        let client = try options.client(maxReconnectAttempts: 3)
        await client.connect()
        do {
            // A hub that is down fails the command rather than queueing forever.
            try await client.waitUntilConnected()
            let receipt = try await client.publish(topic: topic, event: event, json: data, idempotencyKey: key)
            await client.close()
            return receipt
        } catch {
            await client.close()
            throw error
        }
    }

    static func jsonString(_ text: String) throws -> RawJSON {
        var buffer = ByteBuffer()
        buffer.writeJSONString(text)
        return try RawJSON.parsing(buffer)
    }

    static func json(_ receipt: PublishAck) -> String {
        var buffer = ByteBuffer()
        buffer.writeStaticString(#"{"message_id":"#)
        if let id = receipt.messageID { buffer.writeJSONString(id) } else { buffer.writeStaticString("null") }
        if let offset = receipt.offset { buffer.writeString(#","offset":\#(offset)"#) }
        if let epoch = receipt.epoch {
            buffer.writeStaticString(#","epoch":"#)
            buffer.writeJSONString(epoch)
        }
        buffer.writeStaticString("}")
        return String(buffer: buffer)
    }
}
