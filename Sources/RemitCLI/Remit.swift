import ArgumentParser

/// `remit`: the authorizer, offline checks and policy tools.
public struct Remit: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "remit",
    abstract:
      "Keeps every AI agent inside its remit: an Envoy ext_authz authorizer for agent traffic in an Istio mesh.",
    subcommands: [
      ServeCommand.self, ControlPlaneCommand.self, DevCommand.self, CheckCommand.self, PolicyCommand.self,
      IntelCommand.self,
      ScanCommand.self, MeshCommand.self, BenchCommand.self,
    ]
  )

  public init() {}
}

/// Reads an option's value from the flag, else from a `REMIT_*` environment variable, else from
/// the configuration file (`--config`, see ConfigurationFile).
func environmentFallback(_ value: String?, _ variable: String) -> String? {
  if let value { return value }
  return ConfigurationFile.environmentValue(variable) ?? ConfigurationFile.value(for: variable)
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif
