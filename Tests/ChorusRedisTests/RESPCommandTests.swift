import ChorusRedis
import NIOCore
import Testing

@Suite struct RESPCommandTests {
    @Test func encodesAnArrayOfBulkStrings() {
        let command = RESPCommand("SET", "key", .bytes(ByteBuffer(bytes: [0, 0xFF])), 42, .string("é"))
        #expect(String(decoding: command.bytes.readableBytesView, as: UTF8.self) == "*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$2\r\n\u{0}\u{FFFD}\r\n$2\r\n42\r\n$2\r\né\r\n")
        #expect(Array(command.bytes.readableBytesView)[26...27] == [0, 0xFF])
    }

    @Test func theServerParserReadsWhatIsEncoded() throws {
        let command = RESPCommand("EVALSHA", "abc", 1, "key", -7)
        var buffer = command.bytes
        var parser = RESPParser()
        #expect(try parser.next(from: &buffer) == .array(["EVALSHA", "abc", "1", "key", "-7"].map { .bulkString(ByteBuffer(string: $0)) }))
    }

    @Test func scriptSHA1IsRedisName() {
        // SHA1 of "return 1" as `redis-cli SCRIPT LOAD "return 1"` prints it.
        #expect(RedisScript("return 1").sha1 == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    }

    @Test func backoffDoublesUpToTheMaximumWithHalfOfItJittered() {
        let backoff = RedisBackoff(initial: .milliseconds(100), maximum: .seconds(5))
        #expect(backoff.delay(attempt: 0, random: 0) == .milliseconds(50))
        #expect(backoff.delay(attempt: 0, random: 1) == .milliseconds(100))
        #expect(backoff.delay(attempt: 3, random: 1) == .milliseconds(800))
        #expect(backoff.delay(attempt: 10, random: 0) == .milliseconds(2500))
        #expect(backoff.delay(attempt: 10_000, random: 1) == .seconds(5))
    }
}
