import ChorusCore
import ChorusWasm
import CoreMetrics
import Logging
import NIOCore
import NIOPosix

/// The namespaces' WebAssembly transforms (docs/wasm.md): compiled at start, run on the
/// publishing event loop's own instance, reloaded by ``reload(force:)``.
///
/// The hub holds none when no namespace has a transform, so other publishes pay nothing.
final class HubTransforms: Sendable {
    private let transforms: [String: NamespaceTransform]
    /// Each event loop's slot index in every ``LoadedTransform``.
    private let loopIndices: [ObjectIdentifier: Int]
    private let logger: Logger

    /// A namespace's transform and its counters, made once: `chorus_transform_calls_total` by
    /// `outcome` and `chorus_transform_reloads_total` by `result`, both by `namespace`. They are
    /// not ``HubMetricName``s, which exist from the start: these exist only where configured.
    private struct NamespaceTransform: Sendable {
        let loaded: LoadedTransform
        let outcomes: [String: Counter]
        let reloads: [String: Counter]
    }

    /// The `# HELP` text of its metrics, for Prometheus (`ChorusPrometheusMetricsFactory`).
    static let help: [String: String] = [
        "chorus_transform_calls_total": "Publishes run through a namespace's WebAssembly transform by namespace and outcome: keep, drop, replace, error, trap, fuel, memory, bad_output.",
        "chorus_transform_reloads_total": "Reloads of a namespace's WebAssembly transform by namespace and result: reloaded or failed.",
    ]

    /// The transforms of `namespaces`, or nil when none has one. A module that is missing or
    /// fails its check stops the start with the reason.
    static func load(
        _ namespaces: [String: NamespaceOptions], loops: [any EventLoop], metricsFactory: any MetricsFactory, logger: Logger
    ) throws(ConfigurationError) -> HubTransforms? {
        var transforms: [String: NamespaceTransform] = [:]
        for (name, options) in namespaces {
            guard let path = options.transform else { continue }
            let module: TransformModule
            do throws(TransformLoadError) {
                module = try TransformModule(contentsOfFile: path, limits: options.transformLimits)
            } catch {
                throw ConfigurationError("namespace '\(name)': transform: \(error.message)")
            }
            func counters(_ metric: String, _ label: String, _ values: [String]) -> [String: Counter] {
                Dictionary(uniqueKeysWithValues: values.map {
                    ($0, Counter(label: metric, dimensions: [("namespace", name), (label, $0)], factory: metricsFactory))
                })
            }
            transforms[name] = NamespaceTransform(
                loaded: LoadedTransform(module: module, path: path, loops: loops.count),
                outcomes: counters("chorus_transform_calls_total", "outcome", TransformVerdict.outcomes),
                reloads: counters("chorus_transform_reloads_total", "result", ["reloaded", "failed"])
            )
        }
        guard !transforms.isEmpty else { return nil }
        let indices = Dictionary(uniqueKeysWithValues: loops.enumerated().map { (ObjectIdentifier($0.element), $0.offset) })
        return HubTransforms(transforms: transforms, loopIndices: indices, logger: logger)
    }

    private init(transforms: [String: NamespaceTransform], loopIndices: [ObjectIdentifier: Int], logger: Logger) {
        self.transforms = transforms
        self.loopIndices = loopIndices
        self.logger = logger
    }

    /// Whether `topic`'s namespace has a transform (which takes JSON data only).
    func transforms(_ topic: Topic) -> Bool {
        self.transforms[String(topic.namespace)] != nil
    }

    /// Runs `topic`'s namespace transform on a publish, on the calling event loop's instance;
    /// nil when the namespace has none. A failed call, an `error` status or a replacement that
    /// is not JSON or over `maxSize` refuses the publish with `transform_failed`.
    func apply(topic: Topic, event: String, data: ByteBuffer, maxSize: Int) throws(ProtocolError) -> TransformVerdict.Decision? {
        guard let transform = self.transforms[String(topic.namespace)] else { return nil }
        let loop = MultiThreadedEventLoopGroup.currentEventLoop.flatMap { self.loopIndices[ObjectIdentifier($0)] }
        let result = data.withUnsafeReadableBytes { bytes in
            transform.loaded.run(onLoop: loop, topic: topic.name, event: event, data: bytes)
        }
        let verdict = TransformVerdict(result, data: data, maxSize: maxSize)
        transform.outcomes[verdict.outcome]?.increment()
        return try verdict.decision.get()
    }

    /// Reloads every transform whose file changed (every one, with `force`), off the event
    /// loops; a module that fails to load is logged and the previous one keeps running.
    func reload(force: Bool) {
        for (name, transform) in self.transforms.sorted(by: { $0.key < $1.key }) {
            if let result = TransformWatch.reload(transform.loaded, force: force, logger: self.logger, metadata: ["namespace": "\(name)"]) {
                transform.reloads[result]?.increment()
            }
        }
    }
}

extension HubTransforms {
    /// Reloads changed module files every `interval`, and every module on SIGHUP, until cancelled.
    func watch(every interval: Duration) async {
        await TransformWatch.run(every: interval) { force in self.reload(force: force) }
    }
}
