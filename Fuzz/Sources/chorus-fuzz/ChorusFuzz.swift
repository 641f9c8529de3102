import ChorusFuzzTargets
import Foundation

#if CHORUS_FUZZING
import CLibFuzzer
#endif

// `CHORUS_FUZZ_TARGET` names the target: an environment variable rather than an argument,
// because libFuzzer re-runs its own command line when it forks or minimizes a crash.

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

/// The conventional libFuzzer entry point, so other engines that look for it can drive it too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selectedTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// Built by scripts/fuzz (`-DCHORUS_FUZZING`, coverage, AddressSanitizer, libFuzzer linked in)
/// this hands its command line to libFuzzer. It keeps its own `main` either way, because
/// SwiftPM links every executable's entry point under its own name. Built plainly, it runs
/// the files and folders it is given once each, to reproduce a crash without the fuzzer.
@main
enum ChorusFuzz {
    static func main() throws {
        _ = selectedTarget
        #if CHORUS_FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzerTestOneInput))
        #else
        let files = try selectedTarget.replay(CommandLine.arguments.dropFirst().map { URL(fileURLWithPath: $0) })
        print("chorus-fuzz: ran \(files.count) inputs of \(selectedTarget.rawValue) without a crash")
        #endif
    }
}
