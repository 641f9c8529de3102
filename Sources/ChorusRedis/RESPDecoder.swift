import NIOCore

/// The parser as a `ByteToMessageDecoder`: one ``RESPValue`` per reply read. The cumulation
/// buffer NIO keeps is the parser's buffer, so a partial reply resumes where it stopped.
///
/// On a subscriber's connection, pub/sub messages go straight to `messages` as slices of the
/// buffer (``RESPPubSubMessage``), with no value or array made for them.
struct RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    private var parser: RESPParser
    private let messages: RedisSubscriber.MessageHandler?

    init(limits: RESPParser.Limits, messages: RedisSubscriber.MessageHandler? = nil) {
        self.parser = RESPParser(limits: limits)
        self.messages = messages
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if let messages = self.messages, self.parser.isIdle {
            switch RESPPubSubMessage.read(from: &buffer, maxBulkLength: self.parser.limits.maxBulkLength) {
            case .message(let channel, let payload):
                messages(channel, payload)
                return .continue
            case .needMoreData:
                return .needMoreData
            case .other:
                break
            }
        }
        guard let value = try self.parser.next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A reply cut off by the close stays unread: the command handler fails its command.
        try self.decode(context: context, buffer: &buffer)
    }
}
