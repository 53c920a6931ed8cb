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
    ),
    // JSONTape and the JSON-RPC reader on request bodies, against Foundation's parser.
    .executableTarget(
      name: "FuzzJSONBody",
      dependencies: [.product(name: "RemitEngine", package: "remit")],
      swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
    ),
    // The policy loader (YAML and JSON), validation and compilation.
    .executableTarget(
      name: "FuzzPolicyDocument",
      dependencies: [.product(name: "RemitEngine", package: "remit")],
      swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
    ),
    // SPIFFE IDs (source.principal) against a reference written from the specification.
    .executableTarget(
      name: "FuzzWorkloadIdentity",
      dependencies: [.product(name: "RemitEngine", package: "remit")],
      swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
    ),
    // Path hygiene against a reference, and idempotence.
    .executableTarget(
      name: "FuzzRequestPath",
      dependencies: [.product(name: "RemitEngine", package: "remit")],
      swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
    ),
    // gzip and deflate bodies: limits on hostile streams, and round trips through zlib's encoder.
    .executableTarget(
      name: "FuzzBodyDecoder",
      dependencies: [.product(name: "RemitEngine", package: "remit")],
      swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
    ),
    // DLP scanning with every built-in detector and a custom rule.
    .executableTarget(
      name: "FuzzDLPScan",
      dependencies: [.product(name: "RemitEngine", package: "remit")],
      swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
    ),
  ]
)
