import Foundation
import Testing

// docs:begin (docs/clients.md, "Swift": this code is compiled here and run below)
import ChorusClient

struct ChatMessage: Codable, Sendable {
    var text: String
}

func chat(hubURL: String) async throws -> ChatMessage? {
    let client = try ChorusClient(url: hubURL)
    await client.connect()
    let room = client.channel("chat:room1")
    let messages = try await room.subscribe()
    try await room.publish(event: "msg", data: ChatMessage(text: "hello from Swift"))
    for try await message in messages.decoded(as: ChatMessage.self) {
        await client.close()
        return message
    }
    return nil
}
// docs:end

@Suite struct DocsExampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theExampleInClientsMdIsThisCode() throws {
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let lines = source.components(separatedBy: "\n")
        let begin = try #require(lines.firstIndex { $0.hasPrefix("// docs:begin") })
        let end = try #require(lines.firstIndex { $0.hasPrefix("// docs:end") })
        let example = lines[(begin + 1)..<end].joined(separator: "\n")
        let docs = try String(contentsOf: Self.root.appendingPathComponent("docs/clients.md"), encoding: .utf8)
        #expect(docs.contains("```swift\n\(example)\n```"))
    }

    @Test func theExampleRunsAgainstAHub() async throws {
        let hub = try await HubProcess().start()
        let message = try await chat(hubURL: hub.url)
        #expect(message?.text == "hello from Swift")
        hub.stop()
    }
}
