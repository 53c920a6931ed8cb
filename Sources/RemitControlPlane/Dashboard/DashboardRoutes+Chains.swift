import Foundation
import Hummingbird
import RemitEngine

/// Delegation chains: the most recent ones, and one chain's tree of agents with its decisions.
extension DashboardRoutes {
  struct ChainRow: Sendable {
    var id: String
    var path: String
    var root: String
    var memberCount: Int
    var lastHop: String
    var expires: String
    var expired: Bool

    init(_ summary: DelegationChainSummary) {
      id = summary.id
      path = DashboardRoutes.pathSegment(summary.id)
      root = summary.root
      memberCount = summary.memberCount
      lastHop = RFC3339.string(summary.lastHop)
      expires = RFC3339.string(summary.expires)
      expired = summary.expired
    }
  }

  struct ChainsView: Sendable {
    var layout: DashboardLayout
    var chains: [ChainRow]
    var hasChains: Bool
  }

  /// One member and its subtree, rendered by the recursive `chain-node` partial.
  struct ChainNode: Sendable {
    var agent: String
    var depth: Int
    var children: [ChainNode]
    var hasChildren: Bool
  }

  struct ChainView: Sendable {
    var layout: DashboardLayout
    var id: String
    var root: String
    var created: String
    var lastHop: String
    var expires: String
    var expired: Bool
    var memberCount: Int
    var tree: [ChainNode]
    var events: [DecisionRow]
    var hasEvents: Bool
    var nextPage: String?
  }

  /// The tree of `members` (tree order, as the store returns them).
  static func chainTree(_ members: [DelegationChainDetail.Member]) -> [ChainNode] {
    var children: [String: [String]] = [:]
    var depth: [String: Int] = [:]
    for member in members {
      depth[member.agent] = member.depth
      if let parent = member.parent { children[parent, default: []].append(member.agent) }
    }
    func node(_ agent: String, _ level: Int) -> ChainNode {
      // Depth is bounded by maxDepth (at most 32); the level guard keeps bad data from recursing far.
      let kids = level < DelegationHop.maximumMaxDepth ? (children[agent] ?? []).map { node($0, level + 1) } : []
      return ChainNode(agent: agent, depth: depth[agent] ?? level, children: kids, hasChildren: !kids.isEmpty)
    }
    guard let root = members.first else { return [] }
    return [node(root.agent, 0)]
  }

  func addChainRoutes(to ui: RouterGroup<ControlPlaneRequestContext>) {
    ui.get(
      "/chains",
      use: page { _, _, session in
        let chains = try await store.delegationChains(tenant: session.tenant).chains.map(ChainRow.init)
        let view = ChainsView(
          layout: DashboardLayout(title: "Delegation chains", session: session, section: .chains), chains: chains,
          hasChains: !chains.isEmpty)
        return try renderer.html("chains", view)
      })
    ui.get(
      "/chains/:id",
      use: page { request, context, session in
        let id = try context.parameters.require("id")
        let chain = try await store.delegationChain(tenant: session.tenant, id: id)
        let form = try DashboardForm.query(request)
        let cursor = form.nonEmpty("cursor")
        guard (cursor?.utf8.count ?? 0) <= Self.maximumFilterLength else {
          throw DashboardError(
            status: .unprocessableContent, code: "cursor_invalid", message: "The cursor is too long.")
        }
        let page = try await store.auditEvents(tenant: session.tenant, AuditQuery(chain: chain.id, cursor: cursor))
        let events = page.events.map(DecisionRow.init)
        let view = ChainView(
          layout: DashboardLayout(title: "Chain \(chain.id)", session: session, section: .chains), id: chain.id,
          root: chain.root, created: RFC3339.string(chain.created), lastHop: RFC3339.string(chain.lastHop),
          expires: RFC3339.string(chain.expires), expired: chain.expired, memberCount: chain.members.count,
          tree: Self.chainTree(chain.members), events: events, hasEvents: !events.isEmpty,
          nextPage: page.nextCursor.map { "/ui/chains/\(Self.pathSegment(chain.id))?cursor=\(Self.queryValue($0))" })
        return try renderer.html("chain", view)
      })
  }
}
