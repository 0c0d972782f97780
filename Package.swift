// swift-tools-version: 6.2
import PackageDescription

// MLSec: security for machine-learning systems.
// Modules point toward MLSecCore; the `mlsec` executable is a thin shell over the libraries.
let package = Package(
    name: "MLSec",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MLSecCore", targets: ["MLSecCore"]),
        .library(name: "MLSecIntegrity", targets: ["MLSecIntegrity"]),
        .library(name: "MLSecFormats", targets: ["MLSecFormats"]),
        .library(name: "MLSecEngine", targets: ["MLSecEngine"]),
        .library(name: "MLSecScan", targets: ["MLSecScan"]),
        .library(name: "MLSecEncryption", targets: ["MLSecEncryption"]),
        .library(name: "MLSecAudit", targets: ["MLSecAudit"]),
        .library(name: "MLSecAccess", targets: ["MLSecAccess"]),
        .library(name: "MLSecStores", targets: ["MLSecStores"]),
        .library(name: "MLSecReceipts", targets: ["MLSecReceipts"]),
        .library(name: "MLSecPrivacy", targets: ["MLSecPrivacy"]),
        .library(name: "MLSecRobustness", targets: ["MLSecRobustness"]),
        .library(name: "MLSecWatermark", targets: ["MLSecWatermark"]),
        .library(name: "MLSecData", targets: ["MLSecData"]),
        .library(name: "MLSecSupplyChain", targets: ["MLSecSupplyChain"]),
        .library(name: "MLSecDeploy", targets: ["MLSecDeploy"]),
        .library(name: "MLSecGateway", targets: ["MLSecGateway"]),
        .executable(name: "mlsec", targets: ["mlsec"]),
    ],
    dependencies: [
        // Exact: CMLSecAEAD calls this version's BoringSSL symbols directly (checked against the public API at start).
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .target(name: "CMLSecSys"),
        .target(name: "CMLSecExecutorHook"),
        .target(name: "MLSecCore", dependencies: ["CMLSecSys"]),
        .target(
            name: "MLSecIntegrity",
            dependencies: [
                "MLSecCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        .systemLibrary(name: "CBZip2", providers: [.apt(["libbz2-dev"]), .brew(["bzip2"])]),
        .systemLibrary(name: "CLZMA", providers: [.apt(["liblzma-dev"]), .brew(["xz"])]),
        .target(name: "MLSecFormats", dependencies: ["MLSecCore", "CZlib", "CBZip2", "CLZMA"]),
        .target(name: "CMLSecKernels"),
        .target(
            name: "MLSecEngine",
            dependencies: ["CMLSecKernels", "MLSecCore", "MLSecFormats", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["Data/DIGITS-SOURCE.md"]
        ),
        .target(name: "MLSecScan", dependencies: ["MLSecCore", "MLSecFormats"]),
        .target(
            name: "MLSecPrivacy",
            dependencies: [
                "MLSecCore", "MLSecEngine", "MLSecAudit", "CMLSecRandom", .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // Attacks, defenses, certification and the robustness report, over the native engine.
        .target(
            name: "MLSecRobustness", dependencies: ["MLSecCore", "MLSecEngine"]
        ),
        // Watermarks (white-box and trigger set) and fingerprints that prove a model's origin, and the removal attacks.
        .target(
            name: "MLSecWatermark", dependencies: ["MLSecCore", "MLSecEngine"]
        ),
        // Dataset manifests (signed Merkle trees over records), profiles, validation and poisoning screens.
        .target(
            name: "MLSecData",
            dependencies: ["MLSecCore", "MLSecFormats", "MLSecIntegrity", "MLSecAudit", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Bulk CSPRNG bytes from swift-crypto's BoringSSL (RAND_bytes), for DP-SGD's noise and sampling.
        .target(name: "CMLSecRandom", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "MLSecAudit",
            dependencies: [
                "MLSecCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // API keys, roles, rate limits and quotas: who may call, and how much (no server, no PostgreSQL).
        .target(
            name: "MLSecAccess",
            dependencies: ["MLSecCore", .product(name: "Crypto", package: "swift-crypto"), .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The PostgreSQL implementations of the store protocols (replicas), and the opener that picks them or SQLite.
        .target(
            name: "MLSecStores",
            dependencies: [
                "MLSecCore", "MLSecAudit", "MLSecAccess", "MLSecDeploy",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Signed inference receipts, verifiable offline without the HTTP server.
        .target(
            name: "MLSecReceipts",
            dependencies: ["MLSecCore", "MLSecIntegrity", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Software supply chain: CycloneDX documents, OSV advisories, ecosystem version orderings, dependency audit.
        .target(
            name: "MLSecSupplyChain",
            dependencies: ["MLSecCore", "MLSecFormats", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The one model-loading pipeline (authenticate, read once while hashing, decrypt, scan, build), the model
        // registry, the deploy gate and the ML-BOM.
        .target(
            name: "MLSecDeploy",
            dependencies: [
                "MLSecCore", "MLSecFormats", "MLSecIntegrity", "MLSecScan", "MLSecEncryption", "MLSecEngine", "MLSecAudit", "MLSecSupplyChain",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "MLSecGateway",
            dependencies: [
                "MLSecCore", "MLSecEngine", "MLSecIntegrity", "MLSecAudit", "MLSecAccess", "MLSecReceipts", "MLSecDeploy",
                "MLSecRobustness", "MLSecData",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .target(name: "CMLSecAEAD", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "MLSecEncryption",
            dependencies: [
                "MLSecCore",
                "CMLSecAEAD",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // The gateway benchmark's yardstick (Benchmarks/gateway/bench.py): bare Hummingbird, no controls.
        .executableTarget(
            name: "mlsec-gateway-baseline",
            dependencies: ["MLSecEngine", .product(name: "Hummingbird", package: "hummingbird")],
            path: "Benchmarks/gateway/baseline"
        ),
        .executableTarget(
            name: "mlsec",
            dependencies: [
                "CMLSecExecutorHook",
                "MLSecCore",
                "MLSecIntegrity",
                "MLSecEngine",
                "MLSecScan",
                "MLSecEncryption",
                "MLSecAudit",
                "MLSecAccess",
                "MLSecStores",
                "MLSecReceipts",
                "MLSecDeploy",
                "MLSecGateway",
                "MLSecPrivacy",
                "MLSecRobustness",
                "MLSecWatermark",
                "MLSecData",
                "MLSecSupplyChain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            // Start-up (docs/scanning.md, "Start-up"): the Swift runtime and Foundation linked in (14 shared libraries
            // fewer to load and bind), the executable's own symbols not exported (the runtime's dladdr at start
            // scanned 60,000 of them), and every symbol bound at load (full RELRO). Linked statically, the runtime's
            // swift_task_enqueueGlobal_hook is hidden from NIO's dlsym: `mlsec serve` installs the executor hook
            // through CMLSecExecutorHook instead (ExecutorTakeover.swift). Compiling with -static-stdlib too makes the
            // objects name the static libraries' dependencies (ICU, CoreFoundation).
            swiftSettings: [.unsafeFlags(["-static-stdlib"], .when(platforms: [.linux]))],
            linkerSettings: [
                .unsafeFlags(
                    ["-static-stdlib", "-Xlinker", "--no-export-dynamic",
                     "-Xlinker", "-z", "-Xlinker", "now"],
                    .when(platforms: [.linux])
                )
            ],
            plugins: ["EmbedPackageResolved"]
        ),
        // `mlsec sbom --self`: Package.resolved and each dependency's licence, read at build time into the binary.
        .executableTarget(name: "mlsec-embed-resolved", path: "Sources/mlsec-embed-resolved"),
        .plugin(name: "EmbedPackageResolved", capability: .buildTool(), dependencies: ["mlsec-embed-resolved"]),
        .testTarget(name: "MLSecCoreTests", dependencies: ["MLSecCore"]),
        .testTarget(
            name: "MLSecFormatsTests",
            dependencies: ["MLSecFormats", "MLSecCore"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "MLSecEngineTests", dependencies: ["MLSecEngine", "MLSecCore"]),
        .testTarget(name: "MLSecDataTests", dependencies: ["MLSecData", "MLSecCore", "MLSecIntegrity", "MLSecAudit"]),
        .testTarget(name: "MLSecWatermarkTests", dependencies: ["MLSecWatermark", "MLSecCore", "MLSecEngine"]),
        .testTarget(name: "MLSecRobustnessTests", dependencies: ["MLSecRobustness", "MLSecCore", "MLSecEngine"]),
        .testTarget(name: "MLSecPrivacyTests", dependencies: ["MLSecPrivacy", "MLSecCore", "MLSecEngine", "MLSecAudit"]),
        .testTarget(
            name: "MLSecScanTests", dependencies: ["MLSecScan", "MLSecCore", "MLSecFormats"],
            resources: [.copy("ChatTemplates")]
        ),
        .testTarget(
            name: "MLSecSupplyChainTests", dependencies: ["MLSecSupplyChain", "MLSecCore"], resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "MLSecDeployTests",
            dependencies: [
                "MLSecDeploy", "MLSecCore", "MLSecIntegrity", "MLSecEngine", "MLSecEncryption", "MLSecAudit", "MLSecSupplyChain",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        .testTarget(
            name: "MLSecGatewayTests",
            dependencies: [
                "MLSecGateway", "MLSecCore", "MLSecEngine", "MLSecIntegrity", "MLSecAudit", "MLSecAccess", "MLSecStores",
                "MLSecReceipts", "MLSecDeploy",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "MLSecAuditTests",
            dependencies: ["MLSecAudit", "MLSecCore", .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("Vectors")]
        ),
        .testTarget(
            name: "MLSecEncryptionTests",
            dependencies: ["MLSecEncryption", "MLSecCore", "MLSecFormats", .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("Vectors")]
        ),
        .testTarget(
            name: "MLSecIntegrityTests",
            dependencies: [
                "MLSecIntegrity", "MLSecCore", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            resources: [.copy("Vectors")]
        ),
    ]
)

for target in package.targets where target.type != .system && target.type != .plugin {  // plugins take no settings
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
