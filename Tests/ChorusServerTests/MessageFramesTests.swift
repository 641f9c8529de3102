import ChorusCore
import NIOCore
import Testing

@testable import ChorusServer

/// A message encoded while no SSE stream was open leaves its SSE event out; a loop that meets an
/// SSE subscriber after all encodes the same bytes the eager path would have.
struct MessageFramesTests {
    let envelope = MessageEnvelope(
        topic: "chat:room", event: "message", data: ByteBuffer(string: #"{"text":"hi"}"#), messageID: "m1", offset: 7, epoch: "e", timestamp: 1_000
    )

    func message(encodingSSE: Bool) -> OutboundMessage {
        OutboundMessage(
            envelope: self.envelope, topic: try! Topic("chat:room"), sequence: 1, storeSequence: 42, excludedConnection: nil,
            encodingSSE: encodingSSE, allocator: ByteBufferAllocator()
        )
    }

    @Test func aMessageWithoutItsSSEEventGetsTheEagerBytesOnDemand() {
        let eager = self.message(encodingSSE: true)
        let lazy = self.message(encodingSSE: false)
        #expect(lazy.sseEvent == nil)
        var frames = MessageFrames(message: lazy, pattern: nil, allocator: ByteBufferAllocator())
        #expect(frames.frame(for: .sse) == eager.sseEvent)
        #expect(frames.frame(for: .webSocket) == eager.webSocketFrame)
    }

    @Test func patternSubscribersGetFramesWithTheirPattern() {
        var frames = MessageFrames(message: self.message(encodingSSE: false), pattern: "chat:*", allocator: ByteBufferAllocator())
        for transport in TransportKind.allCases {
            let expected = OutboundMessage.encode(self.envelope, sub: "chat:*", for: transport, storeSequence: 42, allocator: ByteBufferAllocator())
            #expect(frames.frame(for: transport) == expected)
            #expect(String(buffer: frames.frame(for: transport)).contains(#""sub":"chat:*""#))
        }
    }
}
