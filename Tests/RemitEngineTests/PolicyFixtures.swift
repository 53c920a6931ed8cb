@testable import RemitEngine

enum PolicyFixtures {
  static let basic = """
    apiVersion: remit/v1
    kind: Policy
    metadata: {name: test, version: "7"}
    settings:
      trustDomains: [cluster.local]
      unmappedIdentity: deny
      truncatedBody: deny
      a2aNamespaces: [agents]
      egressGateways: [istio-system/istio-egressgateway-service-account]
    agents:
      - id: checkout-bot
        meshIdentity: {namespace: agents, serviceAccount: checkout-bot}
        mission: checkout
        mode: enforce
      - id: watcher
        meshIdentity: {namespace: agents, serviceAccount: watcher}
        mission: checkout
        mode: observe
      - id: planner
        meshIdentity: {namespace: planning, serviceAccount: planner}
        mission: planning
      - id: idle
        meshIdentity: {namespace: agents, serviceAccount: idle}
      - id: unbound
        description: Not mesh-bound
        mission: checkout
    missions:
      - id: checkout
        description: Take payment for a customer's cart
        allow:
          - to: tools/inventory
            mcp:
              tools: [get_stock, "reserve_*"]
              resources: ["inventory://items/*"]
              prompts: [summary]
              methods: [tools/list]
          - to: tools/catalog
            http:
              - {methods: [GET], paths: ["/api/v1/items/*", "/api/v1/search"]}
              - {methods: [POST], paths: ["/api/v1/orders/**"]}
          - to: tools/everything
          - to: agents/planner
            a2a: {methods: ["message/send", "tasks/*"]}
        egress: [api.stripe.com, "*.payments.example.com", 203.0.113.10]
      - id: planning
        allow:
          - to: "tools/*"
            mcp: {tools: [search]}
    """

  static func snapshot(_ yaml: String = basic) throws -> PolicySnapshot {
    try PolicySnapshot(bytes: Array(yaml.utf8), format: .yaml)
  }
}
