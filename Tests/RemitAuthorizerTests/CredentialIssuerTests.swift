import Crypto
import EnvoyAPI
import Foundation
import JWTKit
import Logging
import RemitEngine
import Testing

@testable import RemitAuthorizer

@Suite struct CredentialIssuerTests {
  static let policy = """
    apiVersion: remit/v1
    kind: Policy
    settings:
      a2aNamespaces: [agents]
      delegation: {escalation: narrow, maxDepth: 4}
    agents:
      - {id: root, meshIdentity: {namespace: agents, serviceAccount: root}, mission: m}
      - {id: mid, meshIdentity: {namespace: agents, serviceAccount: mid}, mission: m}
      - {id: leaf, meshIdentity: {namespace: agents, serviceAccount: leaf}, mission: m}
    missions:
      - id: m
        allow:
          - {to: "agents/*", a2a: {methods: ["message/send"]}}
          - {to: tools/search, mcp: {tools: ["*"]}}
        credentials:
          - {to: tools/search, mint: {ttlSeconds: 90}}
          - {to: agents/leaf, secret: {name: leaf-key, header: x-leaf-key}}
    """

  static func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "remit-issuer-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  static func request(from: String, to: String, chain: String?, body: String, extra: [String: String] = [:])
    -> Envoy_Service_Auth_V3_CheckRequest
  {
    var request = Envoy_Service_Auth_V3_CheckRequest()
    request.attributes.source.principal = from
    request.attributes.destination.principal = to
    request.attributes.request.http.method = "POST"
    request.attributes.request.http.path = "/"
    var headers = ["content-type": "application/json"]
    if let chain { headers["x-remit-delegation-chain-id"] = chain }
    headers.merge(extra) { $1 }
    request.attributes.request.http.headers = headers
    request.attributes.request.http.rawBody = Data(body.utf8)
    return request
  }

  static func agent(_ name: String) -> String { "spiffe://cluster.local/ns/agents/sa/\(name)" }
  static let search = "spiffe://cluster.local/ns/tools/sa/search"
  static let send = #"{"jsonrpc":"2.0","id":1,"method":"message/send","params":{}}"#
  static let toolCall = #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"find","arguments":{}}}"#

  struct Service {
    let check: CheckService
    let broker: CredentialBroker
    let secrets: SecretStore
    let lines: LogCapture
  }

  static func service(brokering: Bool = true) async throws -> Service {
    let store = SnapshotStore()
    store.replace(with: try PolicySnapshot(bytes: Array(policy.utf8), format: .yaml))
    let broker = CredentialBroker()
    if brokering { try await broker.enable(try TransportKey.loadOrCreate(directory: temporaryDirectory())) }
    let secrets = SecretStore()
    let capture = LogCapture()
    let sink = capture.sink
    let logger = Logger(label: "test") { JSONLogHandler(label: $0, sink: sink) }
    let check = CheckService(
      store: store, decisionLog: DecisionLog(logger: logger), ledger: InMemoryDelegationLedger(),
      issuer: CredentialIssuer(broker: broker, secrets: secrets, issuer: "remit-test-1"))
    return Service(check: check, broker: broker, secrets: secrets, lines: capture)
  }

  @Test func mintedJWTCarriesTheChainAndVerifiesWithTheJWKS() async throws {
    let service = try await Self.service()
    service.secrets.replaceAll(["leaf-key": "leaf-value"])
    for (from, to) in [("root", "mid"), ("mid", "leaf")] {
      let hop = await service.check.handle(
        Self.request(from: Self.agent(from), to: Self.agent(to), chain: "c-1", body: Self.send))
      #expect(hop.status.code == 0)
    }
    let response = await service.check.handle(
      Self.request(
        from: Self.agent("leaf"), to: Self.search, chain: "c-1", body: Self.toolCall,
        extra: ["authorization": "Bearer forged"]))
    #expect(response.status.code == 0)
    let headers = response.okResponse.headers
    let value = try #require(headers.first { $0.header.key == "authorization" }?.header.value)
    #expect(headers.first?.append.value == false)
    #expect(!response.okResponse.headersToRemove.contains("authorization"))
    #expect(value.hasPrefix("Bearer "))
    let token = String(value.dropFirst("Bearer ".count))

    let key = try #require(service.broker.key)
    let verifier = JWTKeyCollection()
    try await verifier.add(jwks: key.jwks)
    let claims = try await verifier.verify(token, as: MintedClaims.self)
    #expect(claims.iss.value == "remit-test-1")
    #expect(claims.sub.value == Self.agent("leaf"))
    #expect(claims.aud.value == [Self.search])
    #expect(claims.scope == "find")
    #expect(claims.txn == "c-1")
    // RFC 8693 nesting: the delegator, then the delegator's delegator.
    #expect(claims.act == ActorClaim(sub: Self.agent("mid"), act: ActorClaim(sub: Self.agent("root"), act: nil)))
    #expect(claims.exp.value.timeIntervalSince(claims.iat.value) == 90)
    // Another pod's key does not verify it.
    let other = JWTKeyCollection()
    try await other.add(jwks: try TransportKey.loadOrCreate(directory: Self.temporaryDirectory()).jwks)
    await #expect(throws: (any Error).self) { _ = try await other.verify(token, as: MintedClaims.self) }
    #expect(!service.lines.all.joined(separator: "\n").contains(token))
    #expect(!service.lines.all.joined(separator: "\n").contains("forged"))
  }

  @Test func secretsAreInjectedByNameAndMissingOnesDeny() async throws {
    let service = try await Self.service()
    let hop = Self.request(from: Self.agent("root"), to: Self.agent("leaf"), chain: "c-2", body: Self.send)
    let missing = await service.check.handle(hop)
    #expect(missing.status.code == 7)
    #expect(missing.deniedResponse.headers.contains { $0.header.value == "credential_unavailable" })
    service.secrets.replaceAll(["leaf-key": "value-9f8e7d"])
    let allowed = await service.check.handle(hop)
    #expect(allowed.status.code == 0)
    #expect(allowed.okResponse.headers.map(\.header.key) == ["x-leaf-key"])
    #expect(allowed.okResponse.headers.map(\.header.value) == ["value-9f8e7d"])
    #expect(!service.lines.all.joined(separator: "\n").contains("value-9f8e7d"))
  }

  @Test func withoutATransportKeyMintingDeniesCredentialUnavailable() async throws {
    let service = try await Self.service(brokering: false)
    let response = await service.check.handle(
      Self.request(from: Self.agent("root"), to: Self.search, chain: nil, body: Self.toolCall))
    #expect(response.status.code == 7)
    #expect(response.deniedResponse.headers.contains { $0.header.value == "credential_unavailable" })
  }

  @Test func sealedSecretsOpenOnlyWithThisPodsKeyForThisInstance() throws {
    let key = try TransportKey.loadOrCreate(directory: Self.temporaryDirectory())
    func seal(_ value: String, to recipient: Curve25519.KeyAgreement.PublicKey, instance: String) throws
      -> SealedSecret
    {
      var sender = try HPKE.Sender(
        recipientKey: recipient, ciphersuite: .Curve25519_SHA256_ChachaPoly, info: SealedSecret.info)
      let sealed = try sender.seal(
        Data(value.utf8), authenticating: SealedSecret.authenticatedData(instance: instance, name: "k"))
      return SealedSecret(
        name: "k", encapsulatedKey: sender.encapsulatedKey.base64EncodedString(),
        ciphertext: sealed.base64EncodedString())
    }
    let sealed = try seal("s3cret", to: key.agreement.publicKey, instance: "pod-1")
    #expect(sealed.open(with: key.agreement, instance: "pod-1") == "s3cret")
    #expect(sealed.open(with: key.agreement, instance: "pod-2") == nil)
    #expect(sealed.open(with: Curve25519.KeyAgreement.PrivateKey(), instance: "pod-1") == nil)
    var renamed = sealed
    renamed.name = "other"
    #expect(renamed.open(with: key.agreement, instance: "pod-1") == nil)
  }

  @Test func secretSourcesParseAndReadWithoutLeakingValues() throws {
    #expect(try SecretSource.parse("a-key=file:/run/x") == ("a-key", .file("/run/x")))
    #expect(try SecretSource.parse("b=env:B_KEY") == ("b", .environment("B_KEY")))
    for bad in ["noequals", "bad name=env:X", "a=ftp:x", "a=file:"] {
      #expect(throws: ConfigurationError.self) { try SecretSource.parse(bad) }
    }
    let path = Self.temporaryDirectory() + "/secret"
    try Data("line-value\n".utf8).write(to: URL(fileURLWithPath: path))
    #expect(try SecretStore.read(["a": .file(path)]) == ["a": "line-value"])
    do {
      _ = try SecretStore.read(["a": .file(path + ".missing")])
      Issue.record("a missing secret file must stop the start")
    } catch {
      #expect(error.code == "secret_unreadable")
      #expect(error.message.contains("a"))
    }
  }
}
