import Yams

extension PolicyDocument {
  /// The document as YAML, fields in model order and absent fields left out, for tools that
  /// rewrite a policy file (`remit intel import`). Comments in the file it came from are not
  /// kept: the model does not hold them.
  public func yamlText() throws(PolicyError) -> String {
    do {
      return try YAMLEncoder().encode(self)
    } catch {
      throw PolicyError(
        code: "policy_unwritable",
        issues: [PolicyIssue(path: "", message: "cannot write the document as YAML: \(error)")])
    }
  }
}
