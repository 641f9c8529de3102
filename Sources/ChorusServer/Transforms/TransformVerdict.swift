public import ChorusCore
public import ChorusWasm
public import NIOCore

/// How the hub reads what a transform did to a publish: the data to store and deliver, a drop,
/// or a refusal with `transform_failed`. `chorus wasm check` reads a sample the same way.
public struct TransformVerdict: Sendable {
    /// What happens to the publish.
    public enum Decision: Sendable, Equatable {
        /// Deliver (and store) this data: the original, or the module's replacement.
        case deliver(ByteBuffer)
        /// Deliver nothing; the publisher's receipt says `dropped`.
        case drop
    }

    /// The `outcome` label of `chorus_transform_calls_total`: `keep`, `drop`, `replace`,
    /// `error`, or the failure's kind.
    public let outcome: String
    /// The publish's fate; `transform_failed` with the reason when refused.
    public let decision: Result<Decision, ProtocolError>

    /// Every `outcome` there is.
    public static let outcomes = ["keep", "drop", "replace", "error"] + [TransformFailure.Kind.trap, .fuel, .memory, .badOutput].map(\.rawValue)

    /// Reads `result`, the transform's run on `data`: a replacement must be one JSON value of at
    /// most `maxSize` bytes, the option `sizeOption` (`max_publish_size` for publishes,
    /// `events_max_data_size` for events) says so in the refusal.
    public init(_ result: Result<TransformOutcome, TransformFailure>, data: ByteBuffer, maxSize: Int, sizeOption: String = "max_publish_size") {
        switch result {
        case .success(.keep):
            (self.outcome, self.decision) = ("keep", .success(.deliver(data)))
        case .success(.drop):
            (self.outcome, self.decision) = ("drop", .success(.drop))
        case .success(.replace(let bytes)):
            (self.outcome, self.decision) = Self.replacement(bytes, maxSize: maxSize, sizeOption: sizeOption)
        case .success(.error(let reason)):
            (self.outcome, self.decision) = ("error", .failure(ProtocolError(.transformFailed, "the transform refused the message: \(reason)")))
        case .failure(let failure):
            (self.outcome, self.decision) = (failure.kind.rawValue, .failure(ProtocolError(.transformFailed, "the transform failed: \(failure.reason)")))
        }
    }

    private static func replacement(_ bytes: [UInt8], maxSize: Int, sizeOption: String) -> (String, Result<Decision, ProtocolError>) {
        let badOutput = TransformFailure.Kind.badOutput.rawValue
        guard bytes.count <= maxSize else {
            return (badOutput, .failure(ProtocolError(.transformFailed, "the transform's data is \(bytes.count) bytes; the limit is \(maxSize) (\(sizeOption))")))
        }
        do throws(JSONError) {
            return ("replace", .success(.deliver(try RawJSON(validating: ByteBuffer(bytes: bytes)).bytes)))
        } catch {
            return (badOutput, .failure(ProtocolError(.transformFailed, "the transform's data is not JSON: \(error.description)")))
        }
    }
}
