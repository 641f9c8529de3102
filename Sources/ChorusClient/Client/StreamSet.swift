/// The streams handed out for one kind of event (states, direct messages, a topic's presence
/// changes…), by id: each gets every element yielded until its consumer drops it (then `onEnd`
/// runs, for the owner to ``remove(_:)`` it) or the set is finished.
struct StreamSet<Element: Sendable>: Sendable {
    private var continuations: [Int: AsyncStream<Element>.Continuation] = [:]

    /// No streams.
    init() {}

    /// Whether no stream is left.
    var isEmpty: Bool { self.continuations.isEmpty }

    /// A new stream with id `id`, starting with `initial` when given.
    mutating func add(id: Int, initial: Element? = nil, onEnd: @escaping @Sendable () -> Void) -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self)
        self.continuations[id] = continuation
        if let initial { continuation.yield(initial) }
        continuation.onTermination = { _ in onEnd() }
        return stream
    }

    /// Forgets stream `id`; false when it was not in the set.
    @discardableResult
    mutating func remove(_ id: Int) -> Bool {
        self.continuations.removeValue(forKey: id) != nil
    }

    /// Gives every stream `element`.
    func yield(_ element: Element) {
        for continuation in self.continuations.values { continuation.yield(element) }
    }

    /// Gives every stream `elements`, in order.
    func yield(contentsOf elements: some Collection<Element>) {
        guard !elements.isEmpty else { return }
        for continuation in self.continuations.values {
            for element in elements { continuation.yield(element) }
        }
    }

    /// Ends every stream (each then ends as its consumer dropped it).
    func finish() {
        for continuation in self.continuations.values { continuation.finish() }
    }

    /// Ends stream `id` alone.
    func finish(_ id: Int) {
        self.continuations[id]?.finish()
    }
}
