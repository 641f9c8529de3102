import ChorusCore
import NIOCore

/// Feeds fuzzed bytes to ``ClientFrameDecoder/decodeBinary(_:)`` as one binary WebSocket
/// message. A refusal must be an `error` reply that is valid JSON echoing the `id`; an accepted
/// publish is written back as the hub delivers it, a binary frame that splits into a JSON
/// header and exactly the data sent, and a JSON frame whose base64 `data` is valid JSON too.
enum BinaryFrameHarness {
    static let decoder = ClientFrameDecoder()

    static func run(_ input: UnsafeRawBufferPointer) {
        let decoded = self.decoder.decodeBinary(ByteBuffer(bytes: input))
        var reply = ByteBuffer()
        switch decoded.result {
        case .success(.publish(let publish)):
            guard let data = publish.binaryData else { preconditionFailure("a binary publish without its bytes") }
            let envelope = MessageEnvelope(
                topic: publish.topic.name, event: publish.event ?? "message", data: data, messageID: publish.idempotencyKey ?? "m-1",
                offset: 1, epoch: publish.idempotencyKey, timestamp: 0, from: MessageSender(user: publish.event, client: "c-1"), binary: true
            )
            var frame = ByteBuffer()
            envelope.writeBinaryFrame(into: &frame, sub: publish.event)
            let parts = try! BinaryFrame.split(frame)
            precondition(parts.data == data, "the binary message does not carry the data as sent")
            let header = JSONOracle.parseReply(parts.header)
            precondition(header["data"] == nil && header["topic"]?.string == envelope.topic && header["event"]?.string == envelope.event)
            var json = ByteBuffer()
            envelope.writeFrame(into: &json)
            precondition(JSONOracle.parseReply(json)["encoding"]?.string == "base64")
            ServerFrame.ack(messageID: envelope.messageID, offset: 1, epoch: envelope.epoch).write(into: &reply, id: decoded.id)
        case .success(let other):
            preconditionFailure("a binary frame decoded to \(other)")
        case .failure(let error):
            ServerFrame.error(error).write(into: &reply, id: decoded.id)
        }
        precondition(JSONOracle.parseReply(reply)["id"]?.bytes == decoded.id?.bytes, "reply \(String(buffer: reply)) does not echo the id")
    }
}
