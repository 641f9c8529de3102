import ChorusCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/api/messages[/{id}]` (docs/http-api.md, "Messages"): the messages resource, for backends
/// (the API key: any sender, every message) and clients (a token with a user: they send as
/// themselves, read what they sent or received and the channels their token may read, change
/// and delete what they sent).
extension APIRoutes {
    /// Bounds of a message (docs/event-bus.md, "The messages resource").
    enum MessageLimits {
        static let maxText = 16_384
        static let maxMetadata = 4_096
        static let maxID = 128
        static let defaultPage = 50
        static let maxPage = 200
    }

    /// The sender of a message the API key sends without `sender_id`.
    static let serverSender = "server"

    /// `POST /api/messages` {`text`, `channel_id` | `recipient_id`, `metadata`?, `sender_id` (API key only)}: 201 and the message.
    func sendMessage(_ request: Request) async throws -> Response {
        let (service, caller) = try self.messagesCaller(request)
        let body = try await self.jsonBody(request)
        let known: Set = ["text", "channel_id", "recipient_id", "metadata", "sender_id"]
        if let unknown = body.keys.first(where: { !known.contains($0) }) {
            throw ProtocolError(.badRequest, "unknown field '\(unknown)' (a message has text, channel_id or recipient_id, metadata, sender_id)")
        }
        let channel = try Self.messageParty(body, "channel_id", topic: "messages.channel.")
        let recipient = try Self.messageParty(body, "recipient_id", topic: "messages.user.")
        guard (channel == nil) != (recipient == nil) else {
            throw ProtocolError(.badRequest, "a message needs exactly one of 'channel_id' and 'recipient_id'")
        }
        let sender: String
        switch caller {
        case .admin:
            // The caller is the server side unless it sends for a user.
            sender = try Self.messageParty(body, "sender_id", topic: "messages.user.") ?? Self.serverSender
        case .publisher(let identity):
            guard let user = identity.user else { throw ProtocolError(.forbidden, "sending a message needs a token with a user") }
            if let given = try Self.messageParty(body, "sender_id", topic: "messages.user."), given != user {
                throw ProtocolError(.forbidden, "a client sends messages as its own user only")
            }
            try Self.messageParty(user, "the token's user", topic: "messages.user.")
            if let channel, let access = self.access(of: caller), !access.mayRead(try Self.topic("messages.channel." + channel)) {
                throw ProtocolError(.forbidden, "this token may not read 'messages.channel.\(channel)', so it may not post there")
            }
            try self.admitPublishes(1, by: caller)
            sender = user
        }
        let message = NewChatMessage(
            id: "msg_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""), sender: sender, channelID: channel,
            recipientID: recipient, text: try Self.messageText(body, required: true)!, metadata: try Self.messageMetadata(body) ?? nil)
        return Self.messageResponse(try await service.send(message), status: .created)
    }

    /// `GET /api/messages?channel_id=&user_id=&before=&limit=`: newest first, `next_before` for the next page.
    func listMessages(_ request: Request) async throws -> Response {
        let (service, caller) = try self.messagesCaller(request)
        let parameters = request.uri.queryParameters
        var query = ChatMessageQuery()
        query.channelID = parameters.get("channel_id")
        query.user = parameters.get("user_id")
        if let before = parameters.get("before") {
            guard let sequence = Int64(before), sequence > 0 else {
                throw ProtocolError(.badRequest, "query parameter 'before' must be a message's sequence (a positive integer)")
            }
            query.beforeSequence = sequence
        }
        query.limit = Int(try Self.integer(parameters.get("limit"), name: "limit", default: UInt64(MessageLimits.defaultPage), range: 1...UInt64(MessageLimits.maxPage)))
        if case .publisher(let identity) = caller {
            guard let user = identity.user else { throw ProtocolError(.forbidden, "reading messages needs a token with a user") }
            if let channel = query.channelID {
                if let access = self.access(of: caller), !access.mayRead(try Self.topic("messages.channel." + channel)) {
                    throw ProtocolError(.forbidden, "this token may not read 'messages.channel.\(channel)'")
                }
            } else {
                guard query.user == nil || query.user == user else { throw ProtocolError(.forbidden, "a client lists its own messages only") }
                query.user = user
            }
        }
        let messages = try await service.messages(query)
        var body = ByteBuffer()
        body.writeStaticString(#"{"messages":["#)
        for (index, message) in messages.enumerated() {
            if index > 0 { body.writeStaticString(",") }
            message.write(into: &body)
        }
        body.writeStaticString(#"],"next_before":"#)
        if messages.count == query.limit, let last = messages.last { body.writeString(String(last.sequence)) } else { body.writeStaticString("null") }
        body.writeStaticString("}")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    /// `GET /api/messages/{id}`.
    func getMessage(_ request: Request, id: String) async throws -> Response {
        let (service, caller) = try self.messagesCaller(request)
        guard let message = try await service.message(id), !message.deleted, try self.mayRead(message, caller) else {
            throw ProtocolError(.notFound, "no message \(ProtocolError.quoted(id))")
        }
        return Self.messageResponse(message, status: .ok)
    }

    /// `PATCH /api/messages/{id}` {`text`?, `metadata`? (null removes it)}: the sender or the API key.
    func patchMessage(_ request: Request, id: String) async throws -> Response {
        let (service, caller) = try self.messagesCaller(request)
        let body = try await self.jsonBody(request)
        if let unknown = body.keys.first(where: { $0 != "text" && $0 != "metadata" }) {
            throw ProtocolError(.badRequest, "unknown field '\(unknown)' (a change has text, metadata)")
        }
        let patch = ChatMessagePatch(text: try Self.messageText(body, required: false), metadata: try Self.messageMetadata(body))
        guard patch.text != nil || patch.metadata != nil else { throw ProtocolError(.badRequest, "a change needs 'text' or 'metadata'") }
        try await self.authorizeChange(of: id, service: service, caller: caller)
        guard let changed = try await service.update(id, patch) else { throw ProtocolError(.notFound, "no message \(ProtocolError.quoted(id))") }
        return Self.messageResponse(changed, status: .ok)
    }

    /// `DELETE /api/messages/{id}`: the sender or the API key; answers the tombstone.
    func deleteMessage(_ request: Request, id: String) async throws -> Response {
        let (service, caller) = try self.messagesCaller(request)
        try await self.authorizeChange(of: id, service: service, caller: caller)
        guard let deleted = try await service.delete(id) else { throw ProtocolError(.notFound, "no message \(ProtocolError.quoted(id))") }
        return Self.messageResponse(deleted, status: .ok)
    }

    // MARK: Helpers

    /// The service and the caller (the API key or a client token); `not_found` when the hub runs none.
    private func messagesCaller(_ request: Request) throws -> (MessagesService, Authenticator.APIAccess) {
        let caller = try self.caller(request)
        guard let messages = self.messages else {
            throw ProtocolError(.notFound, "this hub does not run the messages resource (messages: false)")
        }
        return (messages, caller)
    }

    /// A client reads what it sent or received, and the messages of channels its token may read.
    private func mayRead(_ message: ChatMessage, _ caller: Authenticator.APIAccess) throws -> Bool {
        guard case .publisher(let identity) = caller else { return true }
        guard let user = identity.user else { return false }
        if message.sender == user || message.recipientID == user { return true }
        guard let channel = message.channelID else { return false }
        return self.access(of: caller)?.mayRead(try Self.topic("messages.channel." + channel)) ?? true
    }

    /// Only the sender (or the API key) changes a message: 404 when it cannot see it, 403 when it only reads it.
    private func authorizeChange(of id: String, service: MessagesService, caller: Authenticator.APIAccess) async throws {
        guard case .publisher(let identity) = caller else { return }
        guard let message = try await service.message(id), !message.deleted, try self.mayRead(message, caller) else {
            throw ProtocolError(.notFound, "no message \(ProtocolError.quoted(id))")
        }
        guard message.sender == identity.user else { throw ProtocolError(.forbidden, "only the sender changes or deletes a message") }
    }

    /// A user or channel id: 1 to 128 bytes that make a topic after `topic` (no wildcards).
    private static func messageParty(_ body: JSONObject, _ field: String, topic prefix: String) throws -> String? {
        guard let value = try body.optionalString(field, allowingNull: false) else { return nil }
        try Self.messageParty(value, "'\(field)'", topic: prefix)
        return value
    }

    private static func messageParty(_ value: String, _ what: String, topic prefix: String) throws {
        guard !value.isEmpty, value.utf8.count <= MessageLimits.maxID, !value.contains("*"), (try? Topic(prefix + value)) != nil else {
            throw ProtocolError(.badRequest, "\(what) must be 1 to \(MessageLimits.maxID) bytes that can end a topic name (no '*', no empty segment)")
        }
    }

    private static func messageText(_ body: JSONObject, required: Bool) throws -> String? {
        guard let text = required ? try body.requiredString("text") : try body.optionalString("text", allowingNull: false) else { return nil }
        guard !text.isEmpty, text.utf8.count <= MessageLimits.maxText else {
            throw ProtocolError(.badRequest, "field 'text' must be 1 to \(MessageLimits.maxText) bytes")
        }
        return text
    }

    /// Absent: nil; `null`: `.some(nil)`; an object of at most ``MessageLimits/maxMetadata`` bytes: its text.
    private static func messageMetadata(_ body: JSONObject) throws -> String?? {
        guard let raw = body["metadata"] else { return nil }
        if raw.isNull { return .some(nil) }
        guard raw.kind == .object else { throw ProtocolError(.badRequest, "field 'metadata' must be an object (or null)") }
        guard raw.bytes.readableBytes <= MessageLimits.maxMetadata else {
            throw ProtocolError(.tooLarge, "field 'metadata' is larger than \(MessageLimits.maxMetadata) bytes")
        }
        return .some(String(buffer: raw.bytes))
    }

    private static func messageResponse(_ message: ChatMessage, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: message.json))
    }
}
