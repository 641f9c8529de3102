import ChorusCore
import ChorusServer
import ChorusWasm
import Foundation
import NIOCore

/// `chorus wasm check MODULE`: loads a transform module as the hub would (docs/wasm.md), runs it
/// on a sample message and prints the outcome; a module the hub would refuse exits non-zero.
enum WasmCommand {
    static let usage = """
        Usage: chorus wasm check MODULE.wasm|MODULE.wat [--topic TOPIC] [--event NAME] [--data JSON]
                                 [--fuel N] [--max-pages N] [--max-output BYTES]

        Checks the module against the transform ABI (exports, version, memory), runs it once on
        the sample (default: topic check:sample, event message, data {"text":"hello"}) within the
        limits (defaults as for a namespace) and prints the outcome and the data a subscriber
        would get. Exit status: 0 when the hub would deliver or drop the sample, 1 when it would
        refuse it with transform_failed, 2 when the module cannot load.
        """

    static func run(_ arguments: [String]) throws {
        var scanner = ArgumentScanner(arguments, usage: Self.usage)
        guard scanner.next() == "check" else { throw CommandError(Self.usage) }
        var path: String?
        var topic = "check:sample"
        var event = "message"
        var data = #"{"text":"hello"}"#
        var limits = TransformLimits()
        while let argument = scanner.next() {
            switch argument {
            case "--topic": topic = try scanner.value(of: argument)
            case "--event": event = try scanner.value(of: argument)
            case "--data": data = try scanner.value(of: argument)
            case "--fuel": limits.fuel = UInt64(try scanner.number(of: argument))
            case "--max-pages": limits.maxMemoryPages = try scanner.number(of: argument)
            case "--max-output": limits.maxOutputBytes = try scanner.number(of: argument)
            case "--help", "-h":
                print(Self.usage)
                return
            default:
                guard path == nil, !argument.hasPrefix("-") else { throw CommandError("unexpected argument '\(argument)'\n\n\(Self.usage)") }
                path = argument
            }
        }
        guard let path else { throw CommandError("give the module to check\n\n\(Self.usage)") }
        let sample: RawJSON
        let checkedTopic: Topic
        do {
            sample = try RawJSON(validating: ByteBuffer(string: data))
            checkedTopic = try Topic(topic)
        } catch {
            throw CommandError("the sample: \(error)")
        }
        let module: TransformModule
        do throws(TransformLoadError) {
            module = try TransformModule(contentsOfFile: path, limits: limits)
        } catch {
            throw CommandError(error.message)
        }
        print("ok: \(path) follows the transform ABI (version \(TransformABI.version))")
        let result = sample.bytes.withUnsafeReadableBytes { bytes in
            TransformSlot(module: module).run(topic: checkedTopic.name, event: event, data: bytes)
        }
        let verdict = TransformVerdict(result, data: sample.bytes, maxSize: HubConfiguration().maxPublishSize)
        print("outcome: \(verdict.outcome)")
        switch verdict.decision {
        case .success(.deliver(let delivered)):
            print("data: \(String(buffer: delivered))")
        case .success(.drop):
            break
        case .failure(let error):
            print("transform_failed: \(error.message)")
            exit(1)
        }
    }
}
