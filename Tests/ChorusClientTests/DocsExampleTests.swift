import Foundation
import Testing

// docs:begin (docs/clients.md, "Swift": this code is compiled here and run below)
import ChorusClient
import ChorusCore  // the types shared with the hub: SyncRecord, PresenceMember, …

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

struct TodoItem: Codable, Sendable {
    var title: String
    var done = false
}

func board(hubURL: String) async throws -> [SyncRecord] {
    let client = try ChorusClient(url: hubURL)
    await client.connect()
    // Presence: who is here, and their changes as an AsyncSequence.
    let presence = client.channel("demo:room1").presence
    let changes = await presence.changes()
    try await presence.join(meta: ["name": "Ada", "status": "online"])
    for await change in changes {
        if case .join(let member) = change {
            print(try member.decodeMeta([String: String].self)["name"] ?? "?", "is here")  // Ada herself, first
            break
        }
    }
    // A sync collection: the hub's records, kept current and resumed after a reconnect.
    let tasks = client.collection("demo:tasks")
    try await tasks.subscribe()
    let ack = try await tasks.insert(id: "t1", data: TodoItem(title: "Ship it"))
    do {
        try await tasks.update(id: "t1", data: TodoItem(title: "Ship it", done: true), baseVersion: ack.version)
    } catch let error as ChorusClientError where error.code == .conflict {
        print("changed meanwhile; the hub has:", error.current?.dataJSON ?? "nothing")
    }
    let records = await tasks.records
    await client.close()
    return records
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
        // `chorus serve`'s default namespace `demo` has presence and sync.
        let records = try await board(hubURL: hub.url)
        #expect(records.map(\.id) == ["t1"] && records.first?.version == 2)
        hub.stop()
    }
}
