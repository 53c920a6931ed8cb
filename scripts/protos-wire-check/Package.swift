// swift-tools-version:6.1
// Scratch package for scripts/check-protos-wire.sh, which copies it, WireCheck.swift and a fresh
// copy of Sources/EnvoyAPI into a directory outside the repo ($WORK_DIR) and builds it there:
// EnvoyAPI in Swift 6 language mode (complete strict concurrency) with warnings as errors.
import PackageDescription

let package = Package(
  name: "envoyapi-check",
  platforms: [.macOS(.v15)],
  dependencies: [
    .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    .package(url: "https://github.com/grpc/grpc-swift-2", exact: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
  ],
  targets: [
    .target(
      name: "EnvoyAPI",
      dependencies: [
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
      ],
      swiftSettings: [
        .swiftLanguageMode(.v6),
        .unsafeFlags(["-strict-concurrency=complete", "-warnings-as-errors"]),
      ]
    ),
    .executableTarget(
      name: "WireCheck",
      dependencies: ["EnvoyAPI", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
  ]
)
