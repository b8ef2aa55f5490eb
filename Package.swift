// swift-tools-version:6.2
import PackageDescription

/// Every module of ours, benchmarks included (a module's async function types must read alike in all of them).
/// `NonisolatedNonsendingByDefault`: a non-isolated async function runs on its caller's executor, with no switch to
/// the generic executor at each call (for the delivery workers, which prefer an HTTP event loop, that switch only
/// looked the preferred executor up, under the task's lock: 4.5 % of the relay's CPU, docs/benchmarks.md).
let strict: [SwiftSetting] = [
    .treatAllWarnings(as: .error),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

let package = Package(
    name: "affonso-relay",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "affonso-relay", targets: ["affonso-relay"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // MARK: - librdkafka
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .target(
            name: "KafkaClient",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // MARK: - Rules
        .target(name: "CEL", swiftSettings: strict),
        .target(name: "Rules", dependencies: ["CEL"], swiftSettings: strict),

        // MARK: - Affonso
        .target(
            name: "AffonsoAPI",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AffonsoSandbox",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),

        // MARK: - Relay
        .target(
            name: "Relay",
            dependencies: [
                "KafkaClient", "Rules", "AffonsoAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "RelayConfig",
            dependencies: [
                "Relay", "Rules", "AffonsoAPI", "KafkaClient",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "affonso-relay",
            dependencies: [
                "Relay", "RelayConfig", "Rules", "CEL", "AffonsoAPI", "AffonsoSandbox", "KafkaClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // MARK: - Benchmarks (release builds run by `make bench`; see docs/benchmarks.md)
        .executableTarget(
            name: "KafkaBench", dependencies: ["KafkaClient"], path: "Benchmarks/KafkaBench", swiftSettings: strict),
        .executableTarget(name: "CELBench", dependencies: ["CEL"], path: "Benchmarks/CELBench", swiftSettings: strict),
        .executableTarget(
            name: "AffonsoBench",
            dependencies: ["AffonsoAPI", "AffonsoSandbox"],
            path: "Benchmarks/AffonsoBench",
            swiftSettings: strict
        ),

        // MARK: - Tests
        .target(name: "SeededRandom", path: "Tests/SeededRandom", swiftSettings: strict),
        .testTarget(name: "KafkaClientTests", dependencies: ["KafkaClient"], swiftSettings: strict),
        .testTarget(
            name: "CELTests", dependencies: ["CEL", "SeededRandom"], exclude: ["Conformance"], swiftSettings: strict),
        .testTarget(
            name: "RulesTests", dependencies: ["Rules", "CEL", "RelayConfig", "SeededRandom"], swiftSettings: strict),
        .testTarget(
            name: "AffonsoAPITests",
            dependencies: [
                "AffonsoAPI", "AffonsoSandbox", "SeededRandom",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AffonsoSandboxTests",
            dependencies: ["AffonsoSandbox", .product(name: "HummingbirdTesting", package: "hummingbird")],
            swiftSettings: strict
        ),
        .testTarget(name: "RelayTests", dependencies: ["Relay", "CEL", "SeededRandom"], swiftSettings: strict),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "KafkaClient", "Relay", "RelayConfig", "Rules", "AffonsoAPI", "AffonsoSandbox",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
    ]
)
