import ChorusBench
import ChorusServer


/// `chorus serve | token | config | bench | pwa | push | sub | pub | events | wasm | help`
let arguments = Array(CommandLine.arguments.dropFirst())
let command = arguments.first ?? "help"
let rest = Array(arguments.dropFirst())

do {
    switch command {
    case "serve":
        try await ServeCommand.run(rest)
    case "token":
        try TokenCommand.run(rest)
    case "config":
        try ConfigCommand.run(rest)
    case "pwa":
        try PWACommand.run(rest)
    case "push":
        try PushCommand.run(rest)
    case "bench":
        try await BenchDispatch.run(rest)
    case "sub":
        try await SubCommand.run(rest)
    case "pub":
        try await PubCommand.run(rest)
    case "wasm":
        try WasmCommand.run(rest)
    case "events":
        try await EventsCommand.run(rest)
    case "help", "--help", "-h":
        print(Help.overview)
    default:
        throw CommandError("unknown command '\(command)'\n\n\(Help.overview)")
    }
} catch let error as CommandError {
    Console.fail(error.message, exitCode: error.exitCode)
} catch let error as ConfigurationError {
    Console.fail(error.message)
} catch let error as BenchError {
    Console.fail(error.message)
} catch {
    Console.fail("\(error)")
}
