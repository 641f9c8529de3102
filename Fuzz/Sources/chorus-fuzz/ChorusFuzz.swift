import ChorusFuzzTargets
import Foundation

// Built with `-DCHORUS_FUZZING -sanitize=fuzzer` (scripts/fuzz), this is a libFuzzer target and
// libFuzzer supplies `main`; built plainly, it replays inputs, to reproduce a crash without the
// fuzzer. Either way `CHORUS_FUZZ_TARGET` names the target: an environment variable rather than
// an argument, because libFuzzer re-runs its own command line when it forks or minimizes.

/// The target `CHORUS_FUZZ_TARGET` names; exits with the list of targets when it names none.
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["CHORUS_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("chorus-fuzz: set CHORUS_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    return target
}()

#if CHORUS_FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selectedTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main
enum ReplayInputs {
    static func main() throws {
        let paths = CommandLine.arguments.dropFirst().map { URL(fileURLWithPath: $0) }
        let files = try selectedTarget.replay(paths)
        print("chorus-fuzz: ran \(files.count) inputs of \(selectedTarget.rawValue) without a crash")
    }
}
#endif
