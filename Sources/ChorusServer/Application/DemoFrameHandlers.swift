import ChorusCore
import NIOCore

/// The frame types `chorus serve` registers for its `/demo` chat (the library registers none);
/// every other custom type is answered `unknown_type` unless an application registers it.
public enum DemoFrameHandlers {
    /// `{"type": "demo:typing", "room": "lobby", "typing": true}`: tells the room's typing
    /// topic (`demo-typing:<room>`, which keeps no history) who is typing.
    public static let all: [String: CustomFrameHandler] = [
        "demo:typing": { context throws(ProtocolError) in
            let room = try context.fields.requiredString("room")
            let topic: Topic
            do throws(TopicError) {
                topic = try Topic("demo-typing:" + room)
            } catch {
                throw ProtocolError(.badRequest, "invalid room '\(room)': \(error.description)")
            }
            let typing = context.fields["typing"]?.bool ?? true
            var data = ByteBuffer()
            data.writeStaticString(#"{"user":"#)
            if let user = context.connection.user { data.writeJSONString(user) } else { data.writeStaticString("null") }
            data.writeStaticString(#","client":"#)
            data.writeJSONString(context.connection.client)
            data.writeStaticString(typing ? #","typing":true}"# : #","typing":false}"#)
            // As the client: a namespace it may not publish to refuses its typing notices too.
            try context.publish(topic: topic, event: "typing", data: data)
            return nil
        }
    ]
}
