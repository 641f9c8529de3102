import ChorusCore
public import ChorusWasm
import Foundation
import NIOCore

/// An event consumer's WebAssembly module (docs/event-bus.md, "Transforms"): a namespace
/// transform's module, ABI, limits and hot reload (``LoadedTransform``), run on each event
/// before its delivery.
public final class ConsumerTransform: Sendable {
    /// The module and its instances: one per core (attempts run on the cooperative pool, so no
    /// more run at once), each used by one attempt at a time, made on first use.
    let loaded: LoadedTransform

    /// Loads and checks the module at `path` (a `.wasm` or `.wat` file).
    public init(path: String, limits: TransformLimits) throws(TransformLoadError) {
        let module = try TransformModule(contentsOfFile: path, limits: limits)
        self.loaded = LoadedTransform(module: module, path: path, loops: ProcessInfo.processInfo.activeProcessorCount)
    }

    /// The module's limits.
    public var limits: TransformLimits { self.loaded.module.limits }

    /// Runs the module on `event` (topic and event: its type; data: its data) and reads the
    /// result as a delivery would: replacement data must be JSON of at most `maxSize` bytes.
    func run(_ event: LoggedEvent, maxSize: Int) -> (outcome: String, decision: EventTransformDecision) {
        let data = event.event.data
        let result = data.withUnsafeReadableBytes { bytes in
            self.loaded.run(onLoop: nil, topic: event.event.type, event: event.event.type, data: bytes)
        }
        let verdict = TransformVerdict(result, data: data, maxSize: maxSize, sizeOption: "events_max_data_size")
        return (verdict.outcome, EventTransformDecision(verdict, event: event))
    }
}

/// What a consumer's transform means for one delivery attempt.
enum EventTransformDecision: Equatable {
    /// Deliver this event: the original, or with the module's replacement data.
    case deliver(LoggedEvent)
    /// Skip it: the attempt succeeds without reaching the target (`filtered`).
    case filter
    /// The call failed (trap, fuel, memory, bad output): a failed attempt, retried as any,
    /// so a module fixed and reloaded meanwhile gets the event; the dead-letter queue after the last.
    case fail(String)
    /// The module refused the event (status `error`): dead-lettered at once, as a target's
    /// rejection is, since the same module would refuse it again.
    case reject(String)

    init(_ verdict: TransformVerdict, event: LoggedEvent) {
        switch verdict.decision {
        case .success(.deliver(let data)):
            var event = event
            event.event.data = data
            self = .deliver(event)
        case .success(.drop):
            self = .filter
        case .failure(let error) where verdict.outcome == "error":
            self = .reject("transform_failed: \(error.message)")
        case .failure(let error):
            self = .fail("transform_failed: \(error.message)")
        }
    }

    /// The attempt's result when it ends here; nil for ``deliver(_:)``.
    var result: EventDeliveryResult? {
        switch self {
        case .deliver: nil
        case .filter: EventDeliveryResult(outcome: .succeeded, filtered: true)
        case .fail(let reason): EventDeliveryResult(outcome: .failed(), error: reason)
        case .reject(let reason): EventDeliveryResult(outcome: .rejected, error: reason)
        }
    }
}

/// A consumer's target behind its transform: each attempt runs the module first, then delivers
/// what it decided, or ends there (filtered, failed, rejected).
struct TransformingTarget: EventTarget {
    let target: any EventTarget
    let transform: ConsumerTransform
    /// `events_max_data_size`: the largest replacement data.
    let maxSize: Int
    let metrics: EventBusMetrics

    func deliver(_ event: LoggedEvent, consumer: String, attempt: Int) async -> EventDeliveryResult {
        let (outcome, decision) = self.transform.run(event, maxSize: self.maxSize)
        self.metrics.transformCall(outcome, consumer: consumer)
        guard case .deliver(let transformed) = decision else { return decision.result ?? .succeeded }
        return await self.target.deliver(transformed, consumer: consumer, attempt: attempt)
    }
}
