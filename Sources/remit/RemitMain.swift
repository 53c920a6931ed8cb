import RemitCLI

/// The `remit` executable: everything lives in RemitCLI.
@main
enum RemitMain {
  static func main() async {
    await Remit.main()
  }
}
