import RemitEngine

/// The delegation ledger in the control plane (`POST /v1/delegations/hops`), shared by every
/// replica. Each call has the connection's ledger timeout; past it the hop is denied.
public struct ControlPlaneLedger: DelegationLedger {
  let client: ControlPlaneClient

  public init(client: ControlPlaneClient) {
    self.client = client
  }

  public func record(_ hop: DelegationHop) async throws(DelegationLedgerError) -> DelegationRecord {
    let record: DelegationRecord
    do {
      record = try await client.recordHop(hop)
    } catch {
      throw DelegationLedgerError(code: error.code, message: error.message)
    }
    return try Self.checked(record, for: hop)
  }

  static func checked(_ record: DelegationRecord, for hop: DelegationHop) throws(DelegationLedgerError)
    -> DelegationRecord
  {
    // The path decides whose missions bound the call: an answer that does not end at the caller,
    // or is deeper than any chain may be, is not used (fail closed).
    if record.outcome.denial == nil,
      record.callerPath.last != hop.caller || record.callerPath.count > DelegationHop.maximumMaxDepth + 1
    {
      throw DelegationLedgerError(
        code: "ledger_answer_invalid", message: "the ledger's path does not end at the caller or is too deep")
    }
    return record
  }
}
