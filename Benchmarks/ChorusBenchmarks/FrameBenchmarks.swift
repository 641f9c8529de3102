import Benchmark
import ChorusCore
import ChorusServer
import NIOCore

func frameBenchmarks() {
    let publishFrame = ByteBuffer(
        string: #"{"type":"publish","id":17,"topic":"chat:general","event":"msg","data":{"text":"hello, world","user":{"id":"u-42","name":"Ada"},"tags":["a","b"],"n":3.5}}"#
    )
    let decoder = ClientFrameDecoder()

    Benchmark("ClientFrameDecoder decode publish (\(publishFrame.readableBytes) B)", configuration: .perOperation) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(decoder.decode(publishFrame))
        }
    }

    let envelope = MessageEnvelope(
        topic: "chat:general",
        event: "msg",
        data: ByteBuffer(string: #"{"text":"hello, world","user":{"id":"u-42","name":"Ada"},"tags":["a","b"],"n":3.5}"#),
        messageID: "k3x9a-1f",
        offset: 1_234,
        epoch: "e-7",
        timestamp: 1_700_000_000_000,
        from: MessageSender(user: "u-42", client: "c-9")
    )
    let allocator = ByteBufferAllocator()

    Benchmark("MessageEnvelope encode message frame JSON", configuration: .perOperation) { benchmark in
        for _ in benchmark.scaledIterations {
            var buffer = allocator.buffer(capacity: 256)
            envelope.writeFrame(into: &buffer)
            blackHole(buffer)
        }
    }

    // What the hub does once per publish (OutboundMessage): the whole WebSocket frame that is
    // then written as is to every subscriber.
    Benchmark("WebSocket text frame of a message (header + JSON)", configuration: .perOperation) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(
                WebSocketFrameEncoding.textFrame(allocator: allocator, capacity: envelope.data.readableBytes + 160) { buffer in
                    envelope.writeFrame(into: &buffer)
                }
            )
        }
    }

    let id = decoder.decode(publishFrame).id
    precondition(id != nil, "the benchmark's publish frame has no id to echo")
    Benchmark("ServerFrame encode ack", configuration: .perOperation) { benchmark in
        for _ in benchmark.scaledIterations {
            var buffer = allocator.buffer(capacity: 96)
            ServerFrame.ack(messageID: "k3x9a-1f", offset: 1_234, epoch: "e-7").write(into: &buffer, id: id)
            blackHole(buffer)
        }
    }
}
