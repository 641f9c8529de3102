import ChorusFuzzTargets
import Dispatch
import Foundation
import Testing

/// Replays the checked-in fuzz corpus and every crash reproducer through the fuzz targets' own
/// entry points in a plain build, so a regression shows here without the fuzzer build.
@Suite struct FuzzCorpusReplayTests {
    static let fuzzFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    @Test(arguments: FuzzTarget.allCases)
    func seedCorpusRuns(target: FuzzTarget) async throws {
        let folder = Self.fuzzFolder.appendingPathComponent("corpus/\(target.rawValue)")
        let files = try await Self.replay(target, folder)
        #expect(!files.isEmpty)
    }

    @Test(arguments: FuzzTarget.allCases)
    func crashReproducersRun(target: FuzzTarget) async throws {
        let folder = Self.fuzzFolder.appendingPathComponent("regressions/\(target.rawValue)")
        guard FileManager.default.fileExists(atPath: folder.path) else { return }
        try await Self.replay(target, folder)
    }

    /// Replays on a Dispatch thread: the JWT target blocks its thread on async verification,
    /// which must not happen on one of the few threads of the concurrency pool.
    @discardableResult
    static func replay(_ target: FuzzTarget, _ folder: URL) async throws -> [URL] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try target.replay([folder]) })
            }
        }
    }
}
