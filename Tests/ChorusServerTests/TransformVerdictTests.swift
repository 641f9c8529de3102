import ChorusCore
import ChorusWasm
import NIOCore
import Testing

@testable import ChorusServer

/// How the hub reads a transform's outcome: replacement data must be JSON within max_publish_size.
@Suite struct TransformVerdictTests {
    private let data = ByteBuffer(string: #"{"a":1}"#)

    private func verdict(_ result: Result<TransformOutcome, TransformFailure>, maxSize: Int = 64) -> TransformVerdict {
        TransformVerdict(result, data: self.data, maxSize: maxSize)
    }

    private func refusal(_ verdict: TransformVerdict) -> ProtocolError? {
        if case .failure(let error) = verdict.decision { return error }
        return nil
    }

    @Test func keepDropAndReplaceDeliverOrDrop() throws {
        #expect(try verdict(.success(.keep)).decision.get() == .deliver(self.data))
        #expect(try verdict(.success(.drop)).decision.get() == .drop)
        let replaced = verdict(.success(.replace(Array(#" {"b":2} "#.utf8))))
        #expect(replaced.outcome == "replace")
        #expect(try replaced.decision.get() == .deliver(ByteBuffer(string: #"{"b":2}"#)))
    }

    @Test func badReplacementsAndFailuresAreTransformFailed() {
        let notJSON = verdict(.success(.replace(Array("{oops".utf8))))
        #expect(notJSON.outcome == "bad_output")
        #expect(refusal(notJSON)?.code == .transformFailed)
        #expect(refusal(notJSON)?.message.hasPrefix("the transform's data is not JSON") == true)
        let tooLarge = verdict(.success(.replace(Array("[1,2,3]".utf8))), maxSize: 4)
        #expect(refusal(tooLarge)?.message == "the transform's data is 7 bytes; the limit is 4 (max_publish_size)")
        let refused = verdict(.success(.error("no links")))
        #expect(refused.outcome == "error")
        #expect(refusal(refused)?.message == "the transform refused the message: no links")
        let fuel = verdict(.failure(TransformFailure(.fuel, "out of fuel")))
        #expect(fuel.outcome == "fuel")
        #expect(refusal(fuel)?.message == "the transform failed: out of fuel")
        #expect(ErrorCode.transformFailed.httpStatus == 422)
    }
}
