public import Foundation

/// The fuzz targets, by the name `scripts/fuzz`, the corpus folders and `CHORUS_FUZZ_TARGET` use.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case frameDecoder = "frame-decoder"
    case topics
    case jwt
    case webSocket = "websocket"
    case router
    case resp
    case binaryFrame = "binary-frame"

    /// Runs one input; a bug shows as a trap (a failed precondition or a crash in the code under test).
    public func run(_ input: UnsafeRawBufferPointer) {
        switch self {
        case .frameDecoder: FrameDecoderHarness.run(input)
        case .topics: TopicHarness.run(input)
        case .jwt: JWTHarness.run(input)
        case .webSocket: WebSocketHarness.run(input)
        case .router: RouterHarness.run(input)
        case .resp: RESPHarness.run(input)
        case .binaryFrame: BinaryFrameHarness.run(input)
        }
    }

    /// Runs every file at `paths` (files, or folders whose files are read), as libFuzzer does
    /// when given a corpus without fuzzing; returns the files run, in the order run.
    @discardableResult
    public func replay(_ paths: [URL]) throws -> [URL] {
        let files = try paths.flatMap(Self.files(at:))
        for file in files {
            let input = try Data(contentsOf: file)
            input.withUnsafeBytes { self.run($0) }
        }
        return files
    }

    private static func files(at url: URL) throws -> [URL] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: url.path])
        }
        guard isFolder.boolValue else { return [url] }
        let names = try FileManager.default.contentsOfDirectory(atPath: url.path).filter { !$0.hasPrefix(".") }
        return names.sorted().map { url.appendingPathComponent($0) }
    }
}
