// swift-tools-version: 6.1
import PackageDescription

// scripts/fuzz sets CHORUS_FUZZ_RUNTIME (libFuzzer's runtime without a `main`): Chorus's own
// modules then get libFuzzer's coverage and AddressSanitizer, and chorus-fuzz links both
// runtimes. The dependencies are compiled exactly as for the release tarball, so scripts/fuzz
// and scripts/release share one scratch folder and compile them once.
// The coverage flag goes to the frontend only: the driver's -sanitize=fuzzer would link
// libFuzzer's own `main` too.
let fuzzerRuntime = Context.environment["CHORUS_FUZZ_RUNTIME"]
let fuzzingSettings: [SwiftSetting] =
    fuzzerRuntime == nil ? [] : [.define("CHORUS_FUZZING"), .unsafeFlags(["-sanitize=address", "-Xfrontend", "-sanitize=fuzzer"])]
let fuzzingLinkerSettings: [LinkerSetting] =
    fuzzerRuntime.map { [.unsafeFlags(["-sanitize=address", "-Xlinker", $0, "-Xlinker", "-lstdc++"])] } ?? []

let languageSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]
let strictSettings = languageSettings + fuzzingSettings

let package = Package(
    name: "chorus",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ChorusCore", targets: ["ChorusCore"]),
        .library(name: "ChorusSQLite", targets: ["ChorusSQLite"]),
        .library(name: "ChorusServer", targets: ["ChorusServer"]),
        .executable(name: "chorus", targets: ["chorus"]),
        // The Swift client SDK (docs/clients.md, "Swift").
        .library(name: "ChorusClient", targets: ["ChorusClient"]),
        // The shared durable store of a cluster (PostgreSQL): pool, migrations, health.
        .library(name: "ChorusPostgres", targets: ["ChorusPostgres"]),
        // The RESP client for clusters (docs/architecture.md, "ChorusRedis").
        .library(name: "ChorusRedis", targets: ["ChorusRedis"]),
        // The cluster on Redis: broker, ordered history, node directory (docs/architecture.md, "Cluster").
        .library(name: "ChorusCluster", targets: ["ChorusCluster"]),
        // Web Push: RFC 8291 encryption and RFC 8292 VAPID (docs/pwa.md, "Web Push").
        .library(name: "ChorusPush", targets: ["ChorusPush"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // One trait each for Hummingbird and WasmKit (their defaults enable several): SwiftPM
        // passes several traits' -D flags in an order that changes from one invocation to the
        // next, which recompiles the package every time (and in scripts/release after
        // scripts/fuzz, which share a scratch folder). Chorus needs neither swift-configuration
        // support nor WasmKit's WASI file system or disassembler.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        // TLS: ChorusClient's wss://, ChorusPostgres's sslmode, ChorusRedis's rediss:// (already in the graph through Hummingbird).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // ChorusPostgres: PostgreSQL client with a connection pool.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // Web Push delivery to push services (ChorusServer/Push).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // ChorusWasm: sandboxed per-namespace message transforms (WasmKit runtime and WAT parser).
        .package(url: "https://github.com/swiftwasm/WasmKit", from: "0.4.2", traits: ["MultiThread"]),
    ],
    targets: [
        .target(
            name: "ChorusCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                // A history store is a Service (the protocol only: no I/O here).
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // JWS compact tokens (JWT): base64url, signing keys, verification, HS256 minting.
        .target(
            name: "ChorusJWT",
            dependencies: [
                "ChorusCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ChorusSQLite",
            dependencies: [
                "ChorusCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ChorusServer",
            dependencies: [
                "ChorusCore",
                "ChorusJWT",
                "ChorusSQLite",
                "ChorusPostgres",
                "ChorusRedis",
                "ChorusCluster",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                // Web Push: encryption and VAPID, and the HTTP client that delivers to push services.
                "ChorusPush",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                "ChorusWasm",  // per-namespace WebAssembly transforms
                // Native TLS on the hub's port (tls_cert, tls_key).
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings,
            plugins: ["EmbedWebAssets"]
        ),
        .target(
            name: "ChorusBench",
            dependencies: [
                "ChorusJWT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                // wss:// and https:// targets (TLS vs plain fan-out).
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "AssetEmbedder",
            // A build tool: never instrumented (it runs during the build).
            swiftSettings: languageSettings
        ),
        .plugin(
            name: "EmbedWebAssets",
            capability: .buildTool(),
            dependencies: ["AssetEmbedder"]
        ),
        .executableTarget(
            name: "chorus",
            dependencies: [
                "ChorusServer",
                "ChorusBench",
                "ChorusJWT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                "ChorusClient",  // chorus pub / chorus sub
                "ChorusPush",  // chorus push keys
                "ChorusWasm",  // chorus wasm check
                .product(name: "NIOHTTP1", package: "swift-nio"),  // chorus events: HubHTTP.request's methods
            ],
            swiftSettings: strictSettings
        ),
        // The embedding example (docs/embedding.md): Chorus in an application's own Hummingbird
        // application and ServiceGroup; Tests/e2e/test_embedding.py runs it.
        .executableTarget(
            name: "EmbeddedChorus",
            dependencies: [
                "ChorusCore",
                "ChorusServer",
                "ChorusSQLite",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Examples/EmbeddedChorus",
            swiftSettings: strictSettings
        ),
        // Fuzz targets (scripts/fuzz, docs/security.md "Fuzzing"): a plain build replays inputs;
        // scripts/fuzz builds chorus-fuzz as a libFuzzer target.
        .target(
            name: "ChorusFuzzTargets",
            dependencies: [
                "ChorusCore",
                "ChorusServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                "ChorusRedis",
            ],
            path: "Fuzz/Sources/ChorusFuzzTargets",
            swiftSettings: strictSettings
        ),
        .target(
            name: "CLibFuzzer",
            path: "Fuzz/Sources/CLibFuzzer"
        ),
        .executableTarget(
            name: "chorus-fuzz",
            dependencies: ["ChorusFuzzTargets", "CLibFuzzer"],
            path: "Fuzz/Sources/chorus-fuzz",
            swiftSettings: strictSettings,
            linkerSettings: fuzzingLinkerSettings
        ),
        // Micro-benchmarks: `swift package benchmark` (docs/performance.md, "Micro-benchmarks").
        .executableTarget(
            name: "ChorusBenchmarks",
            dependencies: [
                "ChorusCore",
                "ChorusServer",
                "ChorusJWT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ChorusBenchmarks",
            swiftSettings: strictSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .testTarget(
            name: "ChorusCoreTests",
            dependencies: ["ChorusCore", "ChorusTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ChorusJWTTests",
            dependencies: [
                "ChorusJWT",
                "ChorusCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            exclude: ["make-pyjwt-fixtures.py"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ChorusBenchTests",
            dependencies: ["ChorusBench"],
            swiftSettings: strictSettings
        ),
        // Fakes for tests of the seams (a store failing on demand, a recording broker).
        .target(
            name: "ChorusTestSupport",
            dependencies: ["ChorusCore", .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/ChorusTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ChorusServerTests",
            dependencies: [
                "ChorusServer",
                "ChorusSQLite",
                "ChorusTestSupport",
                "ChorusFuzzTargets",
                "ChorusCluster",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                "ChorusWasm",  // TransformVerdictTests
                // TLSTests: handshakes against the hub's server context.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                // WebhookClientTests: a scripted HTTP server and the client it answers.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The Swift client SDK: async/await over SwiftNIO, sharing frame types with the hub.
        .target(
            name: "ChorusClient",
            dependencies: [
                "ChorusCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ChorusClientTests",
            dependencies: [
                "ChorusClient",
                "ChorusBench",  // ServeLauncher: the hub processes the tests run against
                "ChorusTestSupport",  // ByteBuffer(hex:) for the shared vectors
                "ChorusCore",
                "ChorusJWT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The shared durable store of a cluster: configuration from postgres_url, migrations
        // under an advisory lock, a health check for /ready (docs/architecture.md, "ChorusPostgres").
        .target(
            name: "ChorusPostgres",
            dependencies: [
                "ChorusCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // Integration tests of ChorusPostgres against a real PostgreSQL (PostgresTestServer).
        .testTarget(
            name: "ChorusPostgresTests",
            dependencies: [
                "ChorusPostgres",
                "ChorusTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                "ChorusSQLite",  // EventStoreContractTests: one suite, both engines
                .product(name: "GRDB", package: "GRDB.swift"),  // EventStoreFacts: a file of the old shape
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The RESP client on SwiftNIO: parser, pipelined client, pub/sub, scripts, URLs, TLS.
        .target(
            name: "ChorusRedis",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ChorusRedisTests",
            dependencies: [
                "ChorusRedis",
                "ChorusTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The cluster on Redis: RedisBroker, RedisHistoryStore, RedisNodeDirectory (ChorusServer wires them).
        .target(
            name: "ChorusCluster",
            dependencies: [
                "ChorusCore",
                "ChorusRedis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // Web Push message encryption (RFC 8291) and VAPID tokens (RFC 8292): pure, no I/O.
        .target(
            name: "ChorusPush",
            dependencies: [
                "ChorusCore",
                "ChorusJWT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // WebAssembly message transforms (docs/wasm.md): the ABI, limits and per-loop instances on WasmKit.
        .target(
            name: "ChorusWasm",
            dependencies: [
                .product(name: "WasmKit", package: "WasmKit"),
                .product(name: "WAT", package: "WasmKit"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ChorusClusterTests",
            dependencies: [
                "ChorusCluster",
                "ChorusRedis",
                "ChorusTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ChorusPushTests",
            dependencies: [
                "ChorusPush",
                "ChorusJWT",
                "ChorusCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ChorusWasmTests",
            dependencies: ["ChorusWasm"],
            swiftSettings: strictSettings
        ),
    ]
)
