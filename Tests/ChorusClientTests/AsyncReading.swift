import Synchronization

/// How far a read got, for the message of a timeout: the count and the last element.
final class ReadProgress<Element: Sendable>: Sendable {
    let state = Mutex<(count: Int, last: Element?)>((0, nil))
}

/// Reads `sequence` until `done` says the elements so far are enough; fails after `timeout`.
func read<S: AsyncSequence & Sendable>(
    _ sequence: S, timeout: Duration = .seconds(30), until done: @escaping @Sendable ([S.Element]) -> Bool
) async throws -> [S.Element] where S.Element: Sendable {
    let progress = ReadProgress<S.Element>()
    return try await withThrowingTaskGroup(of: [S.Element].self) { group in
        group.addTask {
            var seen: [S.Element] = []
            for try await element in sequence {
                seen.append(element)
                progress.state.withLock { $0 = (seen.count, element) }
                if done(seen) { return seen }
            }
            throw HubError("the sequence ended after \(seen.count) elements")
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            let (count, last) = progress.state.withLock { $0 }
            throw HubError("timed out after \(count) elements, the last \(last.map { "\($0)" } ?? "none")")
        }
        let seen = try await group.next()!
        group.cancelAll()
        return seen
    }
}
