@_spi(Fuzzing) import WasmKit

/// One instance of a transform module with its own store and memory: what one event loop calls
/// for every message of the namespace. Not thread-safe: a ``TransformSlot`` guards it.
public final class TransformInstance {
    private let store: Store
    private let memory: Memory
    private let alloc: Function
    private let transform: Function
    private let output: Function
    private let limiter: PageLimiter
    private let limits: TransformLimits
    /// Reused for every call: WasmKit would otherwise allocate a stack per call.
    private var stack: ExecutionStack

    init(module: TransformModule) throws(TransformLoadError) {
        let source = module.source
        let store = Store(engine: module.engine)
        let limiter = PageLimiter(maxPages: module.limits.maxMemoryPages)
        // `resourceLimiter` is SPI in WasmKit 0.4.2, and the only way to bound `memory.grow`
        // below the module's own declared maximum.
        store.resourceLimiter = limiter
        // A start function runs during instantiation: bound it like a call.
        store.fuel = Fuel(remaining: module.limits.fuel)
        let instance: Instance
        do {
            instance = try module.module.instantiate(store: store)
        } catch {
            if let pages = limiter.denied {
                throw TransformLoadError("\(source): its memory starts at \(pages) pages; the limit is \(module.limits.maxMemoryPages)")
            }
            throw TransformLoadError("\(source): cannot instantiate: \(Self.reason(error))")
        }
        guard let memory = instance.exports[memory: TransformABI.memoryExport] else {
            throw TransformLoadError("\(source): does not export its memory as 'memory'")
        }
        let pages = memory.byteCount / TransformABI.pageSize
        guard pages <= module.limits.maxMemoryPages else {
            throw TransformLoadError("\(source): its memory starts at \(pages) pages; the limit is \(module.limits.maxMemoryPages)")
        }
        var functions: [String: Function] = [:]
        for (name, parameters, result) in TransformABI.functions {
            guard let function = instance.exports[function: name] else {
                throw TransformLoadError("\(source): does not export the function '\(name)'")
            }
            let expected = FunctionType(parameters: Array(repeating: .i32, count: parameters), results: [result == "i64" ? .i64 : .i32])
            guard function.type == expected else {
                throw TransformLoadError("\(source): '\(name)' must take \(parameters) i32 and return one \(result)")
            }
            functions[name] = function
        }
        self.store = store
        self.memory = memory
        self.alloc = functions[TransformABI.allocExport]!
        self.transform = functions[TransformABI.transformExport]!
        self.output = functions[TransformABI.outputExport]!
        self.limiter = limiter
        self.limits = module.limits
        self.stack = ExecutionStack(engine: module.engine)
        store.fuel = Fuel(remaining: module.limits.fuel)
        let version: [Value]
        do {
            version = try functions[TransformABI.versionExport]!.invoke([], on: &self.stack)
        } catch {
            throw TransformLoadError("\(source): chorus_abi_version failed: \(Self.reason(error))")
        }
        guard version.first == .i32(UInt32(bitPattern: TransformABI.version)) else {
            throw TransformLoadError("\(source): chorus_abi_version returned \(version.first.map { "\($0)" } ?? "nothing"); this hub speaks ABI version \(TransformABI.version)")
        }
    }

    /// Runs the transform on one message within the limits. After a failure the instance's
    /// state is undefined: the caller discards it.
    public func run(topic: String, event: String, data: UnsafeRawBufferPointer) throws(TransformFailure) -> TransformOutcome {
        self.store.fuel = Fuel(remaining: self.limits.fuel)
        var topic = topic
        var event = event
        // withUTF8 rethrows untyped errors: carry the typed one out as a Result.
        let result = topic.withUTF8 { topic in
            event.withUTF8 { event in
                Result { () throws(TransformFailure) in
                    try self.call(topic: UnsafeRawBufferPointer(topic), event: UnsafeRawBufferPointer(event), data: data)
                }
            }
        }
        return try result.get()
    }

    private func call(topic: UnsafeRawBufferPointer, event: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer) throws(TransformFailure) -> TransformOutcome {
        let total = topic.count + event.count + data.count
        let base = try self.invoke(self.alloc, [.i32(UInt32(total))]).i32
        let region = try self.region(pointer: base, length: UInt32(total), what: "chorus_alloc")
        self.memory.withUnsafeMutableBufferPointer(offset: region.start, count: total) { target in
            var at = 0
            for part in [topic, event, data] where part.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: target[at..<at + part.count]).copyMemory(from: part)
                at += part.count
            }
        }
        let topicAt = UInt32(base)
        let eventAt = topicAt + UInt32(topic.count)
        let dataAt = eventAt + UInt32(event.count)
        let code = try self.invoke(self.transform, [
            .i32(topicAt), .i32(UInt32(topic.count)), .i32(eventAt), .i32(UInt32(event.count)), .i32(dataAt), .i32(UInt32(data.count)),
        ]).i32
        switch TransformABI.Status(rawValue: Int32(bitPattern: code)) {
        case .keep: return .keep
        case .drop: return .drop
        case .replace: return .replace(try self.readOutput())
        case .error: return .error(String(decoding: try self.readOutput(), as: UTF8.self))
        case nil: throw TransformFailure(.badOutput, "chorus_transform returned \(Int32(bitPattern: code)), not a status (0 keep, 1 drop, 2 replace, 3 error)")
        }
    }

    private func readOutput() throws(TransformFailure) -> [UInt8] {
        let packed = try self.invoke(self.output, []).i64
        let length = UInt32(truncatingIfNeeded: packed)
        guard length <= self.limits.maxOutputBytes else {
            throw TransformFailure(.badOutput, "the output is \(length) bytes; the limit is \(self.limits.maxOutputBytes)")
        }
        let region = try self.region(pointer: UInt32(truncatingIfNeeded: packed >> 32), length: length, what: "chorus_output")
        return self.memory.withUnsafeBufferPointer(offset: region.start, count: region.count) { [UInt8]($0) }
    }

    /// `pointer..<pointer+length` when it lies inside the memory.
    private func region(pointer: UInt32, length: UInt32, what: String) throws(TransformFailure) -> (start: UInt, count: Int) {
        guard UInt64(pointer) + UInt64(length) <= UInt64(self.memory.byteCount) else {
            throw TransformFailure(.badOutput, "\(what) points at \(pointer)+\(length), outside the module's memory (\(self.memory.byteCount) bytes)")
        }
        return (UInt(pointer), Int(length))
    }

    private func invoke(_ function: Function, _ arguments: [Value]) throws(TransformFailure) -> Value {
        self.limiter.denied = nil
        do {
            let results = try function.invoke(arguments, on: &self.stack)
            return results[0]
        } catch {
            if let pages = self.limiter.denied {
                throw TransformFailure(.memory, "memory.grow to \(pages) pages refused: the limit is \(self.limits.maxMemoryPages) pages")
            }
            let reason = Self.reason(error)
            throw TransformFailure(reason == "out of fuel" ? .fuel : .trap, reason == "out of fuel" ? "out of fuel (the limit is \(self.limits.fuel))" : reason)
        }
    }

    /// The trap's first line without WasmKit's `Trap: ` prefix or the backtrace.
    private static func reason(_ error: any Error) -> String {
        let text = "\(error)".split(separator: "\n", maxSplits: 1).first.map(String.init) ?? "\(error)"
        return text.hasPrefix("Trap: ") ? String(text.dropFirst(6)) : text
    }
}

extension Value {
    fileprivate var i32: UInt32 {
        if case .i32(let value) = self { return value }
        return 0
    }

    fileprivate var i64: UInt64 {
        if case .i64(let value) = self { return value }
        return 0
    }
}

/// Refuses `memory.grow` past the page limit, and remembers that it did: the module may then
/// trap (or spin until its fuel runs out), and the reason should name the memory, not the symptom.
private final class PageLimiter: ResourceLimiter, @unchecked Sendable {
    let maxPages: Int
    /// The page count a grow asked for and was refused, during the current call.
    var denied: Int?

    init(maxPages: Int) { self.maxPages = maxPages }

    func limitMemoryGrowth(to desired: Int) throws -> Bool {
        let pages = desired / TransformABI.pageSize
        guard pages <= self.maxPages else {
            self.denied = pages
            throw TransformFailure(.memory, "memory.grow past the page limit")
        }
        return true
    }

    func limitTableGrowth(to desired: Int) throws -> Bool { desired <= 10_000 }
}
