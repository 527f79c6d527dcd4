// swift-tools-version:6.1
import PackageDescription

/// Switchboard: a ZeroMQ message broker that routes citizen inquiries to
/// government department queues. The target graph mirrors the architecture:
/// C is called from exactly one module (`ZeroMQ`), the wire codec is pure
/// (`Majordomo`), and the engine (`SwitchboardBroker`) is the only place that
/// owns sockets. Executables are thin wiring.
let package = Package(
    name: "Switchboard",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "Majordomo", targets: ["Majordomo"]),
        .library(name: "SwitchboardCore", targets: ["SwitchboardCore"]),
        .library(name: "SwitchboardStore", targets: ["SwitchboardStore"]),
        .library(name: "SwitchboardBroker", targets: ["SwitchboardBroker"]),
        .executable(name: "switchboardd", targets: ["switchboardd"]),
        .executable(name: "switchboard", targets: ["switchboard"]),
        .executable(name: "switchboard-bench", targets: ["switchboard-bench"]),
        .executable(name: "switchboard-gateway", targets: ["switchboard-gateway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        /// ICU's spoof checker (UTS #39 confusables), for the channel registry.
        .systemLibrary(
            name: "CICU",
            pkgConfig: "icu-i18n",
            providers: [.apt(["libicu-dev"])]
        ),
        /// The one module that calls ICU.
        .target(name: "Confusables", dependencies: ["CICU"]),
        .target(name: "Majordomo", dependencies: [
            "ZeroMQ",
            .product(name: "Logging", package: "swift-log"),
        ]),
        /// The wire model: service names, error codes, and the answers clients decode.
        .target(name: "SwitchboardProtocol"),
        /// The domain as pure values and state machines: no sockets, no files.
        .target(name: "SwitchboardCore", dependencies: [
            "Confusables", "SwitchboardProtocol",
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Yams", package: "Yams"),
        ]),
        /// Persistence behind the InquiryJournal and InquiryStore protocols; SQLite through
        /// GRDB (and, for the writer's hot statements only, SQLite's own binding calls:
        /// BoundStatement), and PostgreSQL through postgres-nio.
        .target(name: "SwitchboardStore", dependencies: [
            "SwitchboardProtocol", "SwitchboardCore",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SwitchboardBroker", dependencies: [
            "ZeroMQ", "Majordomo", "SwitchboardProtocol", "SwitchboardCore", "SwitchboardStore",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        /// The operations endpoint: Prometheus /metrics, /stats, health and a status page.
        /// The manager's report as a table, CSV and an HTML page with its charts.
        .target(name: "SwitchboardReports", dependencies: ["SwitchboardCore", "SwitchboardProtocol"]),
        .target(name: "SwitchboardOps", dependencies: [
            "SwitchboardBroker", "SwitchboardProtocol", "SwitchboardCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "switchboardd", dependencies: [
            "SwitchboardBroker", "SwitchboardOps", "SwitchboardCore", "SwitchboardStore", "ZeroMQ",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "switchboard", dependencies: [
            "Majordomo", "ZeroMQ", "SwitchboardProtocol", "SwitchboardCore", "SwitchboardReports",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        /// The gateways' pure parts: each platform's payload into 2/SB-INGEST envelopes,
        /// webhook signatures, the gateway's configuration. No sockets, no HTTP.
        .target(name: "SwitchboardGateway", dependencies: [
            "SwitchboardProtocol", "SwitchboardCore",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Yams", package: "Yams"),
        ]),
        /// The gateway process: webhooks in (Hummingbird), sb.ingest out (7/MDP).
        .executableTarget(name: "switchboard-gateway", dependencies: [
            "SwitchboardGateway", "SwitchboardProtocol", "SwitchboardCore", "Majordomo", "ZeroMQ",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ]),
        /// Spawns `switchboardd` as a process and reads its ready file: shared by the tests and the benchmark.
        .target(name: "DaemonHarness", dependencies: ["SwitchboardCore"], path: "Sources/DaemonHarness"),
        /// Helpers every test target shares: deadline polling and a seeded generator.
        .target(name: "TestSupport", dependencies: [.product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport"),
        /// The benchmark: build with -c release and run; it prints figures, it asserts nothing.
        .executableTarget(name: "switchboard-bench", dependencies: [
            "Majordomo", "ZeroMQ", "DaemonHarness", "SwitchboardProtocol", "SwitchboardCore", "SwitchboardStore", "SwitchboardGateway",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ", "TestSupport"]),
        .testTarget(name: "MajordomoTests", dependencies: ["Majordomo", "ZeroMQ", "TestSupport"]),
        .testTarget(name: "SwitchboardProtocolTests", dependencies: ["SwitchboardProtocol"]),
        .testTarget(name: "SwitchboardGatewayTests", dependencies: ["SwitchboardGateway", "SwitchboardCore", "SwitchboardProtocol", "TestSupport"]),
        .testTarget(name: "SwitchboardCoreTests", dependencies: ["SwitchboardCore", "SwitchboardProtocol", "SwitchboardReports", "TestSupport"]),
        .testTarget(name: "SwitchboardStoreTests", dependencies: [
            "SwitchboardStore", "SwitchboardCore", "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        .testTarget(name: "SwitchboardBrokerTests", dependencies: [
            "SwitchboardBroker", "SwitchboardOps", "SwitchboardProtocol", "SwitchboardCore", "SwitchboardStore", "Majordomo", "ZeroMQ", "TestSupport", "DaemonHarness",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
    ]
)
