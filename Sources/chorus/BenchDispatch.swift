import ChorusBench

/// `chorus bench history` (in process, against the hub's own commit path), `chorus bench
/// transform` (in process, a namespace's WebAssembly transform on the publish path), `chorus bench
/// client` (the Swift client against a hub it starts) and the network
/// modes of ChorusBench; `chorus bench worker SPEC` is how a network mode's parent process
/// runs a share of its subscribers in a child.
enum BenchDispatch {
    static func run(_ arguments: [String]) async throws {
        switch arguments.first {
        case "history":
            try await BenchHistoryCommand.run(Array(arguments.dropFirst()))
        case "transform":
            try await BenchTransformCommand.run(Array(arguments.dropFirst()))
        case "client":
            try await BenchClientCommand.run(Array(arguments.dropFirst()))
        case "worker":
            guard arguments.count == 2 else { throw CommandError("chorus bench worker is started by chorus bench itself") }
            try await WorkerMain.run(specJSON: arguments[1])
        case let mode? where BenchCommand.modes.contains(mode):
            try await BenchCommand.run(mode: mode, Array(arguments.dropFirst()), workerArguments: ["bench", "worker"])
        case nil, "--help", "-h", "help":
            print(BenchCommand.overview)
        case let mode?:
            throw CommandError("unknown bench mode '\(mode)'\n\n\(BenchCommand.overview)")
        }
    }
}
