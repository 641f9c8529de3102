import ChorusCore

/// A trie holding 1,000,000 subscriptions shaped like a busy hub's: 8,000 organisations with
/// 100 rooms each (800,000 exact subscriptions, one subscriber each), 20 subscribers per
/// organisation to `org<n>.*` (160,000) and 5 to `org<n>.**` (40,000).
///
/// A class, so benchmarks mutate the one trie in place instead of copying a million nodes.
final class SubscriptionFixture {
    static let organisations = 8_000
    static let roomsPerOrganisation = 100

    var trie = TopicTrie<Int>()

    init() throws {
        var subscriber = 0
        for organisation in 0..<Self.organisations {
            for room in 0..<Self.roomsPerOrganisation {
                self.trie.insert(subscriber, for: try TopicPattern("org\(organisation).room\(room)"))
                subscriber += 1
            }
            let anyRoom = try TopicPattern("org\(organisation).*")
            for _ in 0..<20 {
                self.trie.insert(subscriber, for: anyRoom)
                subscriber += 1
            }
            let anything = try TopicPattern("org\(organisation).**")
            for _ in 0..<5 {
                self.trie.insert(subscriber, for: anything)
                subscriber += 1
            }
        }
        precondition(self.trie.subscriptionCount == 1_000_000)
    }

    /// What fan-out does per match: visit every subscriber of every matching pattern.
    func visitSubscribers(of topic: Topic) -> Int {
        var visited = 0
        self.trie.forEachMatch(of: topic) { _, subscribers in
            for subscriber in subscribers {
                visited &+= subscriber & 1 | 1
            }
        }
        return visited
    }
}
