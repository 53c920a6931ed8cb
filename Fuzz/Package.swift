// swift-tools-version:6.1
// libFuzzer targets for the parsers on the request path. Built and run by scripts/fuzz.sh
// (`swift build --sanitize fuzzer --sanitize address`), never by the main build.
import PackageDescription

let package = Package(
  name: "RemitFuzz",
  platforms: [.macOS(.v15)],
  dependencies: [
    .package(name: "remit", path: ".."),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
  ],
  targets: [
    // GovernedRequest(checkRequestBytes:) against SwiftProtobuf's decoder on the same bytes.
    .executableTarget(
      name: "FuzzCheckRequest",
      dependencies: [
        .product(name: "RemitEngine", package: "remit"),
        .product(name: "RemitEnvoy", package: "remit"),
        .product(name: "EnvoyAPI", package: "remit"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
    )
  ]
)
