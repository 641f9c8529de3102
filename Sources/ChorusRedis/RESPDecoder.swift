import NIOCore

/// The parser as a `ByteToMessageDecoder`: one ``RESPValue`` per reply read. The cumulation
/// buffer NIO keeps is the parser's buffer, so a partial reply resumes where it stopped.
struct RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    private var parser: RESPParser

    init(limits: RESPParser.Limits) {
        self.parser = RESPParser(limits: limits)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try self.parser.next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A reply cut off by the close stays unread: the command handler fails its command.
        try self.decode(context: context, buffer: &buffer)
    }
}
