import ChorusCore
import NIOCore

/// Feeds fuzzed bytes to ``ClientFrameDecoder`` as the text of one WebSocket message, then writes
/// the reply the hub would send with the hub's own encoders and checks that it is valid JSON
/// echoing the request's `id` and `data` byte for byte.
enum FrameDecoderHarness {
    static let decoder = ClientFrameDecoder()

    static func run(_ input: UnsafeRawBufferPointer) {
        let text = ByteBuffer(bytes: input)
        let decoded = self.decoder.decode(text)

        var reply = ByteBuffer()
        switch decoded.result {
        case .success(let frame):
            self.writeReply(to: frame, id: decoded.id, request: text, into: &reply)
        case .failure(let error):
            ServerFrame.error(error).write(into: &reply, id: decoded.id)
        }
        let parsed = JSONOracle.parseReply(reply)
        precondition(parsed["id"]?.bytes == decoded.id?.bytes, "reply \(String(buffer: reply)) does not echo the id")

        if let object = try? JSONObject(parsing: text, maxDepth: self.decoder.maxDepth) {
            JSONOracle.checkMembers(of: object, depth: self.decoder.maxDepth)
        }
    }

    /// One reply per frame type, chosen to push the frame's client-chosen strings and raw JSON
    /// through every writer (topics, events, user ids, tokens, `data`, `timestamp`, custom fields).
    private static func writeReply(to frame: ClientFrame, id: RawJSON?, request: ByteBuffer, into reply: inout ByteBuffer) {
        switch frame {
        case .auth(let token):
            ServerFrame.authSuccess(client: "c-1", user: token, expiresAt: 0).write(into: &reply, id: id)
        case .subscribe(let pattern, let since):
            var offset: UInt64?
            var epoch: String?
            if case .offset(let sinceOffset, let sinceEpoch) = since {
                (offset, epoch) = (sinceOffset, sinceEpoch)
            }
            ServerFrame.subscribed(topic: pattern.text, offset: offset, epoch: epoch, recovered: since != nil).write(into: &reply, id: id)
        case .unsubscribe(let pattern):
            ServerFrame.unsubscribed(topic: pattern.text).write(into: &reply, id: id)
        case .publish(let publish):
            let envelope = MessageEnvelope(
                topic: publish.topic.name,
                event: publish.event ?? "message",
                data: publish.data.bytes,
                messageID: publish.idempotencyKey ?? "m-1",
                offset: 1,
                epoch: publish.idempotencyKey,
                timestamp: 0,
                from: MessageSender(user: publish.event, client: "c-1")
            )
            self.checkMessage(envelope, id: id)
            ServerFrame.ack(messageID: envelope.messageID, offset: 1, epoch: envelope.epoch).write(into: &reply, id: id)
        case .ping(let timestamp):
            ServerFrame.pong(timestamp: timestamp).write(into: &reply, id: id)
        case .presenceJoin(let topic, let meta as RawJSON?, _), .presenceUpdate(let topic, let meta as RawJSON?):
            // The client's meta goes out to every peer as it came, through the member writer diffs share.
            let member = PresenceMember(client: "c-1", user: topic.name, meta: meta?.bytes ?? ByteBuffer(string: "{}"), joinedAt: 0)
            ServerFrame.presenceState(topic: topic.name, members: [member], counts: PresenceCounts(clients: 1, users: 1)).write(into: &reply, id: id)
        case .presence(let topic, _), .presenceLeave(let topic), .presenceStats(let topic):
            ServerFrame.presenceStats(topic: topic.name, counts: PresenceCounts(clients: 0, users: 0)).write(into: &reply, id: id)
        case .signal(let client, let data):
            ServerFrame.signal(from: MessageSender(user: client, client: client), data: data.bytes).write(into: &reply)
            ServerFrame.ack(messageID: nil, offset: nil, epoch: nil).write(into: &reply, id: id)
        case .direct(let user, let event, let data):
            let envelope = MessageEnvelope(
                topic: "direct",
                event: event,
                data: data.bytes,
                messageID: "m-1",
                timestamp: 0,
                from: MessageSender(user: user, client: "c-1")
            )
            self.checkMessage(envelope, id: id)
            ServerFrame.ack(messageID: envelope.messageID, offset: nil, epoch: nil).write(into: &reply, id: id)
        case .syncSubscribe(let collection, let since):
            ServerFrame.syncChanges(collection: collection.name, version: since ?? 0, changes: []).write(into: &reply, id: id)
        case .syncUnsubscribe:
            ServerFrame.ack(messageID: nil, offset: nil, epoch: nil).write(into: &reply, id: id)
        case .syncMutate(let collection, let mutation):
            // The client's record id, mutation id and data go out in the change every subscriber gets.
            let change = SyncChange(
                collection: collection.name, op: mutation.op, recordID: mutation.recordID ?? "r-1", version: mutation.baseVersion ?? 1,
                data: mutation.data, mutationID: mutation.mutationID, by: mutation.recordID, at: 0)
            change.writeFrame(into: &reply)
            ServerFrame.syncSnapshot(collection: collection.name, SyncSnapshot(version: change.version, records: change.record.map { [$0] } ?? [])).write(into: &reply)
            ServerFrame.syncAck(SyncAck(recordID: change.recordID, version: change.version, mutationID: mutation.mutationID, record: nil)).write(into: &reply, id: id)
        case .eventPublish(let event):
            // The client's event id comes back in the receipt.
            var fields = ByteBuffer()
            fields.writeStaticString(#"{"event_id":"#)
            fields.writeJSONString(event.eventID ?? event.eventType)
            fields.writeStaticString("}")
            ServerFrame.custom(type: "ack", fields: fields).write(into: &reply, id: id)
        case .custom(let type, _):
            // A handler that answers with the request's own members, the worst case for `fields`.
            ServerFrame.custom(type: type, fields: request).write(into: &reply, id: id)
        }
    }

    /// The `message` frame subscribers get: valid JSON that carries `data` untouched.
    private static func checkMessage(_ envelope: MessageEnvelope, id: RawJSON?) {
        var frame = ByteBuffer()
        envelope.writeFrame(into: &frame, sub: envelope.event)
        let parsed = JSONOracle.parseReply(frame)
        precondition(parsed["data"]?.bytes == envelope.data, "message \(String(buffer: frame)) does not carry data as sent")
        precondition(parsed["topic"]?.string == envelope.topic && parsed["event"]?.string == envelope.event)
        precondition(parsed["from"]?.kind == .object && parsed["sub"]?.string == envelope.event)
    }
}
