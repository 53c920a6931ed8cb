import RemitEngine

/// The delegation ledger in the control plane (`POST /v1/delegations/hops`), shared by every
/// replica. Each call has the connection's ledger timeout; past it the hop is denied.
public struct ControlPlaneLedger: DelegationLedger {
  let client: ControlPlaneClient

  public init(client: ControlPlaneClient) {
    self.client = client
  }

  public func record(_ hop: DelegationHop) async throws(DelegationLedgerError) -> DelegationRecord {
    do {
      return try await client.recordHop(hop)
    } catch {
      throw DelegationLedgerError(code: error.code, message: error.message)
    }
  }
}
