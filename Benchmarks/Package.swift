// swift-tools-version:6.1
import PackageDescription

// Benchmarks live in their own package so the test build (and CI's test run) never compiles the
// benchmark harness. Run from this directory: `swift package benchmark` (release mode, see
// BENCHMARKS.md); scripts/bench.sh reruns everything BENCHMARKS.md reports.
let package = Package(
  name: "remit-benchmarks",
  platforms: [.macOS(.v15)],
  dependencies: [
    .package(name: "remit", path: ".."),
    .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
  ],
  targets: [
    // Deterministic bodies, indicators and policies shared by the benchmarks.
    .target(
      name: "BenchmarkFixtures",
      dependencies: [.product(name: "RemitEngine", package: "remit")],
      path: "Benchmarks/Fixtures",
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
    .executableTarget(
      name: "ContentScan",
      dependencies: [
        "BenchmarkFixtures",
        .product(name: "RemitEngine", package: "remit"),
        .product(name: "Benchmark", package: "benchmark"),
      ],
      path: "Benchmarks/ContentScan",
      swiftSettings: [.swiftLanguageMode(.v6)],
      plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    ),
    // The decision's mean without the harness's malloc interposer.
    .executableTarget(
      name: "DecisionMean",
      dependencies: ["BenchmarkFixtures", .product(name: "RemitEngine", package: "remit")],
      path: "Tools/DecisionMean",
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
    // DLP throughput without the harness: `ScanMean [ITERATIONS] [CASE]`.
    .executableTarget(
      name: "ScanMean",
      dependencies: ["BenchmarkFixtures", .product(name: "RemitEngine", package: "remit")],
      path: "Tools/ScanMean",
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
    // The Check path's parts timed without the harness: `CheckMean [ITERATIONS] [CASE]`.
    .executableTarget(
      name: "CheckMean",
      dependencies: [
        "BenchmarkFixtures",
        .product(name: "RemitEngine", package: "remit"),
        .product(name: "RemitEnvoy", package: "remit"),
        .product(name: "EnvoyAPI", package: "remit"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      path: "Tools/CheckMean",
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
    .executableTarget(
      name: "Decision",
      dependencies: [
        "BenchmarkFixtures",
        .product(name: "RemitEngine", package: "remit"),
        .product(name: "RemitEnvoy", package: "remit"),
        .product(name: "EnvoyAPI", package: "remit"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Benchmark", package: "benchmark"),
      ],
      path: "Benchmarks/Decision",
      swiftSettings: [.swiftLanguageMode(.v6)],
      plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    ),
  ]
)
