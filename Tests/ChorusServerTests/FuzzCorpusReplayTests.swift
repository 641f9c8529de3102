import ChorusFuzzTargets
import ChorusTestSupport
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
        let files = try await offCooperativePool { try target.replay([folder]) }
        #expect(!files.isEmpty)
    }

    @Test(arguments: FuzzTarget.allCases)
    func crashReproducersRun(target: FuzzTarget) async throws {
        let folder = Self.fuzzFolder.appendingPathComponent("regressions/\(target.rawValue)")
        guard FileManager.default.fileExists(atPath: folder.path) else { return }
        _ = try await offCooperativePool { try target.replay([folder]) }
    }
}
