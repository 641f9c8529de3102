import ChorusCore

/// A connection's subscriptions. Most connections hold exactly one, which is kept inline: a
/// `Set`'s storage for a single element would cost every such connection about 100 bytes.
struct SubscriptionSet: Sequence {
    private enum Storage {
        case none
        case one(TopicPattern)
        case many(Set<TopicPattern>)
    }

    private var storage = Storage.none

    var count: Int {
        switch self.storage {
        case .none: 0
        case .one: 1
        case .many(let set): set.count
        }
    }

    var isEmpty: Bool { self.count == 0 }

    func contains(_ pattern: TopicPattern) -> Bool {
        switch self.storage {
        case .none: false
        case .one(let only): only == pattern
        case .many(let set): set.contains(pattern)
        }
    }

    /// False when `pattern` was already there.
    @discardableResult
    mutating func insert(_ pattern: TopicPattern) -> Bool {
        switch self.storage {
        case .none:
            self.storage = .one(pattern)
            return true
        case .one(let only):
            guard only != pattern else { return false }
            self.storage = .many([only, pattern])
            return true
        case .many(var set):
            self.storage = .none  // so `set` is uniquely referenced and grows in place
            let inserted = set.insert(pattern).inserted
            self.storage = .many(set)
            return inserted
        }
    }

    /// False when `pattern` was not there.
    @discardableResult
    mutating func remove(_ pattern: TopicPattern) -> Bool {
        switch self.storage {
        case .none:
            return false
        case .one(let only):
            guard only == pattern else { return false }
            self.storage = .none
            return true
        case .many(var set):
            self.storage = .none
            let removed = set.remove(pattern) != nil
            self.storage = set.isEmpty ? .none : .many(set)
            return removed
        }
    }

    mutating func removeAll() {
        self.storage = .none
    }

    func makeIterator() -> IndexingIterator<[TopicPattern]> {
        switch self.storage {
        case .none: [].makeIterator()
        case .one(let only): [only].makeIterator()
        case .many(let set): Array(set).makeIterator()
        }
    }
}
