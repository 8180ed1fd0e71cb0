// swift-tools-version:6.1
// embcache: a distributed cache cluster for text embeddings (see README.md and Docs/).
import PackageDescription

/// Settings every Swift target shares (as swift-nio and valkey-swift do).
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

// Used by the node modules as they land.
let nio = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let nioHTTP1 = Target.Dependency.product(name: "NIOHTTP1", package: "swift-nio")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")

let package = Package(
    name: "embcache",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "embcache", targets: ["EmbCLI"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
    ],
    targets: [
        // C libraries from Debian, each behind one C-prefixed module.
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        // Our int8 kernels: baseline flags, per-function target attributes, runtime dispatch.
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .target(name: "CEmbKernels"),

        // Leaf modules: no I/O, no logging.
        .target(name: "EmbHash", dependencies: ["CXXHash"], swiftSettings: swiftSettings),
        .target(name: "EmbTokenizer", swiftSettings: swiftSettings),
        .target(name: "EmbLRU", dependencies: ["EmbHash"], swiftSettings: swiftSettings),
        .target(name: "EmbRing", dependencies: ["EmbHash"], swiftSettings: swiftSettings),
        .target(name: "EmbCluster", dependencies: [.product(name: "Yams", package: "Yams")], swiftSettings: swiftSettings),
        .target(name: "EmbSingleFlight", swiftSettings: swiftSettings),
        .target(name: "EmbRESP", dependencies: [nio], swiftSettings: swiftSettings),
        .target(name: "EmbRedis", dependencies: ["CHiredis", logging], swiftSettings: swiftSettings),
        // TLS for every door: cluster-file settings -> NIOSSLContext, SIGHUP reload, plaintext refusal.
        .target(name: "EmbTLS", dependencies: ["EmbCluster", nio, nioSSL, logging, .product(name: "NIOTLS", package: "swift-nio")], swiftSettings: swiftSettings),
        .target(
            name: "EmbNode",
            dependencies: ["EmbHash", "EmbModel", "EmbLRU", "EmbRedis", "EmbSingleFlight", logging],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EmbServer",
            dependencies: [
                "EmbNode", "EmbRESP", "EmbRedis", "EmbModel", "EmbRing", "EmbCluster", "EmbHash", "EmbTLS", nio, nioPosix, nioHTTP1, logging, lifecycle,
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "EmbModel", dependencies: ["CEmbKernels", "EmbTokenizer", "EmbHash"], swiftSettings: swiftSettings),

        .executableTarget(
            name: "EmbCLI",
            dependencies: [
                "EmbModel", "EmbTokenizer", "EmbServer", "EmbCluster", "EmbRing", "EmbHash", "EmbRESP", logging, lifecycle,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // Fuzz harnesses (Tests/Fuzz): a corpus replayer in a normal build, libFuzzer's target in
        // Scripts/fuzz's instrumented one.
        .executableTarget(
            name: "embcache-fuzz",
            dependencies: ["EmbRESP", "EmbServer", "EmbCluster", "EmbModel", "EmbRedis", "EmbTokenizer", nio],
            path: "Tests/Fuzz/Harness",
            swiftSettings: swiftSettings
        ),

        .testTarget(name: "EmbHashTests", dependencies: ["EmbHash"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EmbTokenizerTests",
            dependencies: ["EmbTokenizer"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "EmbRingTests", dependencies: ["EmbRing", "EmbHash", "EmbCluster"], swiftSettings: swiftSettings),
        .testTarget(name: "EmbClusterTests", dependencies: ["EmbCluster"], swiftSettings: swiftSettings),
        .testTarget(name: "EmbLRUTests", dependencies: ["EmbLRU", "EmbHash"], swiftSettings: swiftSettings),
        .testTarget(name: "EmbSingleFlightTests", dependencies: ["EmbSingleFlight"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EmbRESPTests",
            dependencies: ["EmbRESP", "EmbHash", nio, .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "NIOTestUtils", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "EmbRedisTests", dependencies: ["EmbRedis"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EmbTLSTests",
            dependencies: ["EmbTLS", "EmbCluster", nio, nioPosix, nioSSL, logging, .product(name: "NIOEmbedded", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EmbServerTests",
            dependencies: ["EmbServer", "EmbNode", "EmbModel", "EmbRESP", "EmbCluster", nio, nioPosix, nioHTTP1,
                           .product(name: "NIOEmbedded", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "CEmbKernelsTests", dependencies: ["CEmbKernels", "EmbHash"], swiftSettings: swiftSettings),
        .testTarget(name: "EmbModelTests", dependencies: ["EmbModel", "CEmbKernels"], swiftSettings: swiftSettings),
        .testTarget(name: "EmbNodeTests", dependencies: ["EmbNode", "EmbModel", "EmbHash"], swiftSettings: swiftSettings),
    ]
)
