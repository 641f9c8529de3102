import ChorusRedis
import NIOCore

/// Feeds fuzzed bytes to ``RESPParser`` as a server's replies, once whole and once in pieces
/// as a socket would deliver them, and checks that the pieces change nothing: the same
/// values, the same bytes consumed, the same error. Every value read must also survive a
/// round trip (written, read back, written again: the same bytes). The subscriber's direct
/// reader of pub/sub messages (``RESPPubSubMessage``) must agree with the parser.
///
/// Input: a byte giving the number of extra pieces (0-7), that many piece lengths (a byte
/// each), then the reply bytes; the last piece is what is left.
enum RESPHarness {
    /// Small limits, so fuzzing reaches them.
    static let limits = RESPParser.Limits(maxDepth: 8, maxBulkLength: 512, maxAggregateCount: 64, maxLineLength: 128)

    private struct Outcome {
        var values: [[UInt8]] = []
        var consumed = 0
        var error: RESPParseError.Code?
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        var reader = FuzzInput(input)
        let pieces = reader.choice(of: 8)
        let lengths = (0..<pieces).map { _ in reader.choice(of: 256) }
        let wire = reader.rest()

        let whole = self.parse([wire])
        var chunks: [ArraySlice<UInt8>] = []
        var rest = wire
        for length in lengths {
            chunks.append(rest.prefix(length))
            rest = rest.dropFirst(length)
        }
        chunks.append(rest)
        let split = self.parse(chunks)

        precondition(whole.values == split.values, "pieces changed the values read")
        precondition(whole.error == split.error, "pieces changed the error: \(String(describing: whole.error)) vs \(String(describing: split.error))")
        precondition(whole.error != nil || whole.consumed == split.consumed, "pieces changed the bytes consumed")
        self.checkPubSubReader(wire)
    }

    /// A message the direct reader takes is the parser's first value, bytes for bytes; where
    /// it waits for more, so does the parser, without an error.
    private static func checkPubSubReader(_ wire: ArraySlice<UInt8>) {
        var direct = ByteBuffer(bytes: wire)
        var general = ByteBuffer(bytes: wire)
        var parser = RESPParser(limits: self.limits)
        let value = Result { try parser.next(from: &general) }
        switch RESPPubSubMessage.read(from: &direct, maxBulkLength: self.limits.maxBulkLength) {
        case .message(let channel, let payload):
            guard case .success(.array(let parts)?) = value, parts.count >= 3 else {
                preconditionFailure("the direct reader took a message the parser reads as \(value)")
            }
            precondition(parts[parts.count - 2].buffer == channel && parts[parts.count - 1].buffer == payload, "the direct reader's message differs")
            precondition(direct.readerIndex == general.readerIndex, "the direct reader consumed a different length")
        case .needMoreData:
            guard case .success(nil) = value else {
                preconditionFailure("the direct reader waits for more where the parser reads \(value)")
            }
        case .other:
            break
        }
    }

    /// Appends `chunks` one at a time to one buffer, reading every value after each.
    private static func parse(_ chunks: [ArraySlice<UInt8>]) -> Outcome {
        var parser = RESPParser(limits: self.limits)
        var buffer = ByteBuffer()
        var outcome = Outcome()
        for chunk in chunks {
            buffer.writeBytes(chunk)
            do {
                while let value = try parser.next(from: &buffer) {
                    outcome.values.append(self.roundTrip(value))
                }
            } catch {
                outcome.error = error.code
                break
            }
            outcome.consumed = buffer.readerIndex
        }
        return outcome
    }

    /// The value's bytes as written, checked to read back as a value written the same way.
    private static func roundTrip(_ value: RESPValue) -> [UInt8] {
        var written = ByteBuffer()
        value.write(into: &written)
        let bytes = Array(written.readableBytesView)
        var parser = RESPParser(limits: RESPParser.Limits(maxDepth: self.limits.maxDepth))
        guard let again = try? parser.next(from: &written), written.readableBytes == 0 else {
            preconditionFailure("\(value) written as \(bytes) does not read back")
        }
        var rewritten = ByteBuffer()
        again.write(into: &rewritten)
        precondition(Array(rewritten.readableBytesView) == bytes, "\(value) reads back as \(again)")
        return bytes
    }
}
