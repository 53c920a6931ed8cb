import Foundation
import RemitEngine

/// One decision as the control plane stores it: the fields of the decision log line (SPEC section
/// 9), camelCase. Metadata only, like the log line.
public struct AuditEvent: Codable, Sendable, Equatable {
  public struct Component: Codable, Sendable, Equatable {
    public var publisher: String?
    public var version: String?
    public var risk: String?
  }

  public var decisionId: String
  /// RFC 3339 with milliseconds, UTC.
  public var time: String
  public var surface: String
  public var verdict: String
  public var reason: String?
  public var wouldDeny: String?
  public var mode: String?
  public var agent: String?
  public var sourcePrincipal: String?
  public var destination: String?
  public var kind: String?
  public var method: String?
  public var path: String?
  public var tool: String?
  public var rpcMethod: String?
  public var chainId: String?
  public var externalHost: String?
  public var policyVersion: String?
  public var findings: [String]
  public var aibom: Component?
  public var latencyUs: Int

  /// The control plane bounds every string field; a longer value is cut here so the event is
  /// still stored (a path longer than 2 KiB is itself worth seeing).
  static let maximumFieldBytes = 2048
  static let maximumFindings = 16
  static let maximumFindingBytes = 256

  public init(_ decision: Decision, id: String, time: Date, latencyMicroseconds: Int) {
    func bounded(_ value: String?, _ limit: Int = Self.maximumFieldBytes) -> String? {
      guard let value, value.utf8.count > limit else { return value }
      // A scalar cut in half becomes U+FFFD: still valid UTF-8 for the control plane.
      return String(decoding: value.utf8.prefix(limit - 3), as: UTF8.self)
    }
    decisionId = id
    self.time = time.formatted(Self.timeFormat)
    surface = "mesh"
    verdict = decision.verdict.rawValue
    reason = decision.reason?.rawValue
    wouldDeny = decision.wouldDeny?.rawValue
    mode = decision.mode?.rawValue
    agent = bounded(decision.agent)
    sourcePrincipal = bounded(decision.sourcePrincipal.isEmpty ? nil : decision.sourcePrincipal)
    destination = bounded(decision.destination)
    kind = decision.kind?.rawValue
    method = bounded(decision.method)
    path = bounded(decision.path)
    tool = bounded(decision.tool)
    rpcMethod = bounded(decision.rpcMethod)
    chainId = bounded(decision.chainID)
    externalHost = bounded(decision.externalHost)
    policyVersion = bounded(decision.policyVersion)
    findings = decision.findings.prefix(Self.maximumFindings).compactMap { bounded($0, Self.maximumFindingBytes) }
    aibom = decision.component.map {
      Component(publisher: bounded($0.publisher), version: bounded($0.version), risk: $0.risk?.rawValue)
    }
    latencyUs = latencyMicroseconds
  }

  static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}
