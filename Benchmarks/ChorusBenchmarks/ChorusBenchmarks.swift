import Benchmark

/// The suite `swift package benchmark` runs (its generated `main` calls this).
func benchmarks() {
    topicTrieBenchmarks()
    frameBenchmarks()
    tokenBenchmarks()
    schemaBenchmarks()
    eventBusBenchmarks()  // filters, the delivery scheduler, webhook signatures
}

extension Benchmark.Configuration {
    /// Nanosecond-scale work: a thousand operations per measured iteration keeps the clock's own
    /// cost out of the figures, which are reported per operation.
    static var perOperation: Benchmark.Configuration {
        Benchmark.Configuration(
            metrics: [.wallClock, .throughput, .mallocCountTotal],
            timeUnits: .nanoseconds,
            scalingFactor: .kilo,
            maxDuration: .seconds(3),
            maxIterations: 1_000
        )
    }
}
