import Foundation
import WAT
import WasmKit

/// A transform module compiled once and checked against the ABI: what every event loop's
/// instance is made from. Parsing, validation and the ABI check happen here, off the event loops.
public struct TransformModule: Sendable {
    /// Where the module came from (a path, or `<wat>`/`<wasm>` for text and bytes), for logs.
    public let source: String
    /// The limits every call of its instances runs under.
    public let limits: TransformLimits
    let module: Module
    let engine: Engine

    /// Compiles WebAssembly bytes and checks them against the ABI.
    public init(wasm bytes: [UInt8], limits: TransformLimits, source: String = "<wasm>") throws(TransformLoadError) {
        let engine = Engine(configuration: EngineConfiguration(compilationMode: .eager, fuelMetering: true))
        let module: Module
        do {
            module = try parseWasm(bytes: bytes)
        } catch {
            throw TransformLoadError("\(source): not a valid WebAssembly module: \(error)")
        }
        if let first = module.imports.first {
            throw TransformLoadError("\(source): imports \(first.module).\(first.name); a transform module may import nothing")
        }
        self.source = source
        self.limits = limits
        self.module = module
        self.engine = engine
        // A first instance proves the exports, the version and the memory size.
        _ = try self.instantiate()
    }

    /// Compiles WebAssembly text (WAT) with WasmKit's parser, then as ``init(wasm:limits:source:)``.
    public init(wat text: String, limits: TransformLimits, source: String = "<wat>") throws(TransformLoadError) {
        let bytes: [UInt8]
        do {
            bytes = try wat2wasm(text)
        } catch {
            throw TransformLoadError("\(source): not valid WebAssembly text: \(error)")
        }
        try self.init(wasm: bytes, limits: limits, source: source)
    }

    /// Reads a `.wat` file (WebAssembly text) or any other file as a binary module.
    public init(contentsOfFile path: String, limits: TransformLimits) throws(TransformLoadError) {
        // Only a regular file (through symlinks): a device or a pipe (`/dev/zero`) would never finish reading.
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let type = (try? FileManager.default.attributesOfItem(atPath: resolved))?[.type] as? FileAttributeType
        if let type, type != .typeRegular {
            throw TransformLoadError("\(path): not a regular file")
        }
        guard type != nil, let contents = FileManager.default.contents(atPath: path) else {
            throw TransformLoadError("\(path): cannot read the file")
        }
        if path.hasSuffix(".wat") {
            try self.init(wat: String(decoding: contents, as: UTF8.self), limits: limits, source: path)
        } else {
            try self.init(wasm: [UInt8](contents), limits: limits, source: path)
        }
    }

    /// A new instance with its own store and memory, checked against the ABI.
    public func instantiate() throws(TransformLoadError) -> TransformInstance {
        try TransformInstance(module: self)
    }
}
