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
        .executable(name: "switchboardd", targets: ["switchboardd"]),
    ],
    targets: [
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .executableTarget(name: "switchboardd", dependencies: ["ZeroMQ"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
    ]
)
