import RemitEngine

/// SPEC section 13's engine benchmark policy: 1,000 agents on 100 missions, 10,000 threat
/// indicators with injection heuristics on, every built-in DLP detector, an AIBOM.
public enum SamplePolicy {
  public static let trustDomain = "cluster.local"
  public static let inventory = "spiffe://cluster.local/ns/tools/sa/inventory"

  public static func agentPrincipal(_ index: Int) -> String {
    "spiffe://cluster.local/ns/agents/sa/agent-\(index)"
  }

  public static func document(agents: Int, indicators: Int) -> PolicyDocument {
    let missions = (0..<100).map { index in
      PolicyDocument.Mission(
        id: "mission-\(index)",
        allow: [
          .init(
            to: "tools/inventory",
            mcp: .init(
              // `exfil*` lets a tool the threat feed names past scope, so the threat stage decides.
              tools: ["get_stock", "reserve_*", "send_message", "list_\(index)_*", "exfil*"],
              resources: ["inventory://items/*"],
              methods: ["tools/list"])),
          .init(to: "tools/catalog", http: [.init(methods: ["GET"], paths: ["/api/v1/items/*", "/api/v1/search"])]),
          .init(to: "agents/*", a2a: .init(methods: ["message/send", "tasks/*"])),
        ],
        egress: ["api.stripe.com", "*.payments.example.com"])
    }
    let agentList = (0..<agents).map { index in
      PolicyDocument.Agent(
        id: "agent-\(index)", meshIdentity: .init(namespace: "agents", serviceAccount: "agent-\(index)"),
        mission: "mission-\(index % 100)")
    }
    var detectors: [String: DLPAction] = [:]
    for detector in DLPDetector.allCases { detectors[detector.rawValue] = .block }
    detectors["email"] = .log
    detectors["phone"] = .log
    return PolicyDocument(
      metadata: .init(name: "bench", version: "1"),
      settings: .init(
        trustDomains: [trustDomain], a2aNamespaces: ["agents"],
        egressGateways: ["istio-system/istio-egressgateway-service-account"]),
      agents: agentList,
      missions: missions,
      dlp: .init(detectors: detectors),
      threatIntel: .init(injection: .block, indicators: SampleIndicators.make(count: indicators)),
      aibom: .init(components: [
        .init(to: "tools/inventory", tool: "reserve_items", publisher: "acme", version: "1.2.0", risk: .low)
      ]))
  }

  /// A governed request as the adapter builds it from Envoy's CheckRequest.
  public static func request(
    agent: String = agentPrincipal(500), destination: String = inventory, body: [UInt8]
  ) -> GovernedRequest {
    GovernedRequest(
      sourcePrincipal: agent, destinationPrincipal: destination,
      http: .init(
        method: "POST", path: "/mcp", host: "inventory.tools.svc.cluster.local",
        headers: [
          ":method": "POST", ":path": "/mcp", ":authority": "inventory.tools.svc.cluster.local",
          "content-type": "application/json", "accept": "application/json, text/event-stream",
          "x-request-id": "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b", "user-agent": "agent-sdk/1.0",
          "content-length": "\(body.count)",
        ],
        body: body))
  }

  public static func toolCall(_ name: String, arguments: String = #"{"sku":"SKU-1","qty":2}"#) -> [UInt8] {
    Array(
      #"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"\#(name)","arguments":\#(arguments)}}"#.utf8)
  }
}
