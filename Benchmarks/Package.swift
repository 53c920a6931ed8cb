// swift-tools-version:6.1
import PackageDescription

// Benchmarks live in their own package so the test build (and CI) never compiles the benchmark
// harness. Run from this directory: `swift package benchmark` (release mode, see BENCHMARKS.md).
let package = Package(
  name: "remit-benchmarks",
  platforms: [.macOS(.v15)],
  dependencies: [
    .package(name: "remit", path: ".."),
    .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
  ],
  targets: [
    .executableTarget(
      name: "ContentScan",
      dependencies: [
        .product(name: "RemitEngine", package: "remit"),
        .product(name: "Benchmark", package: "benchmark"),
      ],
      path: "Benchmarks/ContentScan",
      swiftSettings: [.swiftLanguageMode(.v6)],
      plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
  ]
)
