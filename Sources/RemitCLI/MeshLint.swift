import Foundation
import Yams

/// `remit mesh lint`: reads Istio and Kubernetes YAML and reports what would break governance
/// (SPEC section 11). Pure: documents in, findings out.
struct MeshLint {
  struct Finding: Equatable, CustomStringConvertible {
    enum Severity: String { case error, warning }
    var severity: Severity
    /// `Kind namespace/name (file)`.
    var resource: String
    var problem: String
    var why: String
    var fix: String

    var description: String {
      "\(severity.rawValue): \(resource): \(problem)\n  why: \(why)\n  fix: \(fix)"
    }
  }

  struct Document {
    var file: String
    var object: [String: Any]

    var kind: String { object["kind"] as? String ?? "" }
    var metadata: [String: Any] { object["metadata"] as? [String: Any] ?? [:] }
    var name: String { metadata["name"] as? String ?? "?" }
    var namespace: String { metadata["namespace"] as? String ?? "default" }
    var spec: [String: Any] { object["spec"] as? [String: Any] ?? [:] }
    var label: String { "\(kind) \(namespace)/\(name) (\(file))" }
  }

  struct Provider {
    var name: String
    var service: String
    var port: Int?
    var failOpen: Bool
    var maxRequestBytes: Int?
    var source: String
  }

  /// Istio's root namespace: a PeerAuthentication or AuthorizationPolicy there applies mesh-wide.
  var rootNamespace = "istio-system"

  /// Parses every YAML document of every file; a document that is not a mapping is skipped.
  static func documents(file: String, text: String) throws -> [Document] {
    try Yams.load_all(yaml: text).compactMap { node in
      (node as? [String: Any]).map { Document(file: file, object: $0) }
    }
  }

  func lint(_ documents: [Document]) -> [Finding] {
    var findings: [Finding] = []
    let providers = documents.flatMap(Self.providers)
    let customPolicies = documents.filter {
      $0.kind == "AuthorizationPolicy" && ($0.spec["action"] as? String)?.uppercased() == "CUSTOM"
    }
    let peerAuthentications = documents.filter { $0.kind == "PeerAuthentication" }

    // The providers themselves.
    for provider in providers {
      if provider.failOpen {
        findings.append(
          Finding(
            severity: .error, resource: "extension provider \(provider.name) (\(provider.source))",
            problem: "failOpen is true",
            why: "when Remit cannot be reached, Envoy lets every governed request through unchecked",
            fix: "set failOpen: false (run two authorizer replicas for availability instead)"))
      }
      if let bytes = provider.maxRequestBytes, bytes < 65536 {
        findings.append(
          Finding(
            severity: .error, resource: "extension provider \(provider.name) (\(provider.source))",
            problem: "includeRequestBodyInCheck.maxRequestBytes is \(bytes), below 65536",
            why:
              "bodies are cut before DLP and JSON-RPC scope checks see them (body_truncated denials, or less inspected)",
            fix: "set includeRequestBodyInCheck.maxRequestBytes: 65536"))
      } else if provider.maxRequestBytes == nil {
        findings.append(
          Finding(
            severity: .error, resource: "extension provider \(provider.name) (\(provider.source))",
            problem: "includeRequestBodyInCheck is missing",
            why: "Remit never sees request bodies: MCP tool calls cannot be scoped and DLP cannot run",
            fix: "add includeRequestBodyInCheck: {maxRequestBytes: 65536, allowPartialMessage: true, packAsBytes: true}"
          ))
      }
    }

    // Which namespaces are governed, and by which provider.
    var governed: [String: [Document]] = [:]
    for policy in customPolicies {
      let providerName = (policy.spec["provider"] as? [String: Any])?["name"] as? String ?? ""
      if !providers.isEmpty, !providers.contains(where: { $0.name == providerName }) {
        findings.append(
          Finding(
            severity: .error, resource: policy.label,
            problem: "provider \"\(providerName)\" is not registered in meshConfig.extensionProviders "
              + "(registered: \(providers.map(\.name).joined(separator: ", ")))",
            why: "Istio cannot call an unknown provider; the requests this policy matches are not checked by Remit",
            fix: "use one of the registered names in spec.provider.name, or register it (remit mesh snippet)"))
      }
      governed[policy.namespace, default: []].append(policy)
    }

    for (namespace, policies) in governed.sorted(by: { $0.key < $1.key }) {
      let resource = policies.first?.label ?? namespace
      // STRICT mTLS: a namespace-wide STRICT policy, or a mesh-wide one the namespace does not weaken.
      let namespaceWide = peerAuthentications.filter { $0.namespace == namespace && $0.spec["selector"] == nil }
      let meshWide = peerAuthentications.filter { $0.namespace == rootNamespace && $0.spec["selector"] == nil }
      let mode = (namespaceWide.first ?? meshWide.first).map(Self.mtlsMode) ?? "PERMISSIVE"
      if mode != "STRICT" {
        findings.append(
          Finding(
            severity: .error, resource: resource,
            problem: "governed namespace \(namespace) does not require STRICT mTLS (effective mode \(mode))",
            why: "without mTLS a caller has no SPIFFE identity: Remit denies it (identity_missing), or a plaintext "
              + "caller bypasses the sidecar's identity entirely",
            fix: "apply a PeerAuthentication in \(namespace) with spec.mtls.mode: STRICT"))
      }
      for peer in peerAuthentications where peer.namespace == namespace {
        let weakPorts = Self.weakPortModes(peer)
        if (peer.spec["selector"] != nil && ["PERMISSIVE", "DISABLE"].contains(Self.mtlsMode(peer)))
          || !weakPorts.isEmpty
        {
          findings.append(
            Finding(
              severity: .error, resource: peer.label,
              problem: "weakens mTLS in governed namespace \(namespace)"
                + (weakPorts.isEmpty ? "" : " on port(s) \(weakPorts.joined(separator: ", "))"),
              why: "plaintext reaches those workloads or ports without a peer identity, so agents are not identified",
              fix:
                "remove the PERMISSIVE/DISABLE override (mode and portLevelMtls) or move the workload out of \(namespace)"
            ))
        }
      }
      // Ambient mode has no sidecar to run ext_authz in the pod's path.
      if let object = documents.first(where: { $0.kind == "Namespace" && $0.name == namespace }),
        let labels = object.metadata["labels"] as? [String: Any],
        (labels["istio.io/dataplane-mode"] as? String) == "ambient"
      {
        findings.append(
          Finding(
            severity: .error, resource: object.label,
            problem: "governed namespace \(namespace) is in ambient mode",
            why: "Remit's CUSTOM policy runs in sidecars; ambient pods have none, so their calls are not checked",
            fix:
              "use sidecar mode for agent and tool namespaces (label istio-injection=enabled, drop istio.io/dataplane-mode)"
          ))
      }
    }

    // The authorizer's own namespace and Service.
    for provider in providers {
      let parts = provider.service.split(separator: ".").map(String.init)
      guard parts.count >= 2 else { continue }
      let (serviceName, serviceNamespace) = (parts[0], parts[1])
      if let policies = governed[serviceNamespace] {
        findings.append(
          Finding(
            severity: .error, resource: policies.first?.label ?? serviceNamespace,
            problem: "the authorizer's own namespace \(serviceNamespace) is governed",
            why: "calls to Remit would need Remit's approval first: one outage then locks out the authorizer itself",
            fix: "apply the CUSTOM AuthorizationPolicy to the agents' and tools' namespaces only"))
      }
      if let service = documents.first(where: {
        $0.kind == "Service" && $0.name == serviceName && $0.namespace == serviceNamespace
      }) {
        let ports = (service.spec["ports"] as? [[String: Any]]) ?? []
        let port = ports.first { ($0["port"] as? Int) == provider.port } ?? (ports.count == 1 ? ports.first : nil)
        let name = port?["name"] as? String ?? ""
        if name != "grpc", !name.hasPrefix("grpc-") {
          findings.append(
            Finding(
              severity: .error, resource: service.label,
              problem:
                "the authorizer's port \(port?["port"] as? Int ?? provider.port ?? 0) is named \"\(name)\", not grpc",
              why: "Istio picks the protocol from the port name; without grpc it is not treated as HTTP/2 gRPC",
              fix: "name the port grpc"))
        }
      }
    }
    return findings
  }

  static func mtlsMode(_ peer: Document) -> String {
    ((peer.spec["mtls"] as? [String: Any])?["mode"] as? String)?.uppercased() ?? "UNSET"
  }

  static func weakPortModes(_ peer: Document) -> [String] {
    guard let ports = peer.spec["portLevelMtls"] as? [AnyHashable: Any] else { return [] }
    return ports.compactMap { key, value in
      let mode = ((value as? [String: Any])?["mode"] as? String)?.uppercased()
      return mode == "PERMISSIVE" || mode == "DISABLE" ? "\(key)" : nil
    }.sorted()
  }

  /// `extensionProviders` from an IstioOperator, the `istio` ConfigMap's `mesh`, or a bare
  /// `meshConfig:` document (Helm values, `remit mesh snippet`).
  static func providers(_ document: Document) -> [Provider] {
    var meshConfig: [String: Any]?
    if document.kind == "IstioOperator" {
      meshConfig = document.spec["meshConfig"] as? [String: Any]
    } else if document.kind == "ConfigMap", document.name == "istio",
      let mesh = (document.object["data"] as? [String: Any])?["mesh"] as? String
    {
      meshConfig = (try? Yams.load(yaml: mesh)) as? [String: Any]
    } else if document.kind.isEmpty {
      meshConfig = document.object["meshConfig"] as? [String: Any]
    }
    let entries = meshConfig?["extensionProviders"] as? [[String: Any]] ?? []
    return entries.compactMap { entry in
      guard let name = entry["name"] as? String, let grpc = entry["envoyExtAuthzGrpc"] as? [String: Any] else {
        return nil
      }
      let body = grpc["includeRequestBodyInCheck"] as? [String: Any]
      return Provider(
        name: name, service: grpc["service"] as? String ?? "", port: grpc["port"] as? Int,
        failOpen: grpc["failOpen"] as? Bool ?? false,
        maxRequestBytes: body.map { $0["maxRequestBytes"] as? Int ?? 0 },
        source: document.file)
    }
  }
}
