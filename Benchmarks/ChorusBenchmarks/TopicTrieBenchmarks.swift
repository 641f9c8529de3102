import Benchmark
import ChorusCore

func topicTrieBenchmarks() {
    let matchCases: [(name: String, topic: String, subscribers: Int)] = [
        // The exact subscription, `org4242.*` and `org4242.**`.
        ("hit: 3 patterns, 26 subscribers", "org4242.room42", 26),
        // Only `org4242.**` reaches a third segment.
        ("deep: 1 pattern, 5 subscribers", "org4242.room42.thread7", 5),
        ("miss", "nobody.listens.here", 0),
    ]
    for (name, topicName, expected) in matchCases {
        Benchmark(
            "TopicTrie match, 1M subscriptions, \(name)",
            configuration: .perOperation,
            closure: { benchmark, fixture in
                let topic = try! Topic(topicName)
                precondition(fixture.visitSubscribers(of: topic) == expected)
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    blackHole(fixture.visitSubscribers(of: topic))
                }
            },
            setup: { try SubscriptionFixture() }
        )
    }

    // LoopShard's subscribe/unsubscribe is this trie insert and remove plus a Set insert on the
    // connection and a metrics counter.
    let registryCases: [(name: String, pattern: String)] = [
        ("existing exact pattern", "org4242.room42"),
        ("existing wildcard pattern", "org4242.*"),
        ("new pattern (nodes created and pruned)", "org4242.room4242.thread1"),
    ]
    for (name, patternText) in registryCases {
        Benchmark(
            "TopicTrie subscribe + unsubscribe, 1M subscriptions, \(name)",
            configuration: .perOperation,
            closure: { benchmark, fixture in
                let pattern = try! TopicPattern(patternText)
                let subscriber = -1
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    fixture.trie.insert(subscriber, for: pattern)
                    fixture.trie.remove(subscriber, for: pattern)
                }
                benchmark.stopMeasurement()
                precondition(fixture.trie.subscriptionCount == 1_000_000)
            },
            setup: { try SubscriptionFixture() }
        )
    }
}
