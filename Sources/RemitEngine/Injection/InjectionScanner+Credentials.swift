/// References to credential files and keys: SSH private keys, cloud and tool credential files,
/// system password files, process environments, mounted secrets and `.env` files.
extension InjectionScanner {
  /// Names after a leading dot (`~/.aws/credentials`, `/home/x/.netrc`). A `/` here also matches `\`.
  static let dotNames: [[UInt8]] = [
    "ssh/authorized_keys", "ssh/identity", "aws/credentials", "config/gcloud", "config/gh/hosts.yml",
    "kube/config", "docker/config.json", "gnupg", "azure/accesstokens.json", "azure/msal_token_cache",
    "cursor/mcp.json", "terraform.d/credentials", "netrc", "git-credentials", "npmrc", "pypirc", "pgpass",
    "vault-token", "my.cnf",
  ].map { Array($0.utf8) }

  /// Absolute paths after the leading slash. Entries ending in `/` are directories: anything may follow.
  static let rootPaths: [[UInt8]] = [
    "etc/shadow", "etc/gshadow", "etc/passwd", "etc/master.passwd", "etc/sudoers", "proc/self/environ",
    "proc/thread-self/environ", "var/run/secrets/", "run/secrets/",
  ].map { Array($0.utf8) }

  /// SSH private key file names after `id_`, longest first.
  static let sshKeyTypes: [[UInt8]] = ["ed25519_sk", "ecdsa_sk", "ed25519", "ecdsa", "rsa", "dsa", "xmss"].map {
    Array($0.utf8)
  }

  /// `.env` suffixes that name templates without secrets.
  static let envTemplateSuffixes: [[UInt8]] = ["example", "sample", "template", "dist", "defaults", "tpl", "tmpl"]
    .map { Array($0.utf8) }

  mutating func dotName(at index: Int) {
    guard let base else { return }
    // A dot inside a word is an extension (`prod.env`, `process.env`), not a dotfile.
    if index > 0 && Self.isPathWordByte(base[index - 1]) { return }
    let start = index + 1
    guard start < end else { return }
    if matchesCaseInsensitive(at: start, Array("env".utf8)) {
      if isDotEnvFile(afterEnvAt: start + 3) { report(.credentialReference, at: index) }
      return
    }
    for name in Self.dotNames where matchesPath(at: start, name) {
      if isFileNameEnd(at: start + name.count) {
        report(.credentialReference, at: index)
        return
      }
    }
  }

  mutating func rootPath(at index: Int) {
    guard let base else { return }
    let start = index + 1
    guard start < end else { return }
    switch base[start] {
    case UInt8(ascii: "e"), UInt8(ascii: "p"), UInt8(ascii: "v"), UInt8(ascii: "r"): break
    default: return
    }
    for path in Self.rootPaths where matchesPath(at: start, path) {
      if path.last == UInt8(ascii: "/") || isFileNameEnd(at: start + path.count) {
        report(.credentialReference, at: index)
        return
      }
    }
    // /proc/<pid>/environ
    if matchesPath(at: start, Array("proc/".utf8)) {
      let digitsEnd = scanName(from: start + 5, limit: 10) { $0 &- UInt8(ascii: "0") < 10 }
      if digitsEnd > start + 5 && matchesPath(at: digitsEnd, Array("/environ".utf8))
        && isFileNameEnd(at: digitsEnd + 8)
      {
        report(.credentialReference, at: index)
      }
    }
  }

  /// `id_rsa`, `id_ed25519`… (not `id_rsa.pub`) and Windows `_netrc`.
  mutating func underscoreName(at index: Int) {
    guard let base else { return }
    let start = index + 1
    if index >= 2 && Self.lowercased(base[index - 2]) == UInt8(ascii: "i")
      && Self.lowercased(base[index - 1]) == UInt8(ascii: "d") && (index == 2 || !Self.isPathWordByte(base[index - 3]))
    {
      for keyType in Self.sshKeyTypes where matchesCaseInsensitive(at: start, keyType) {
        let nameEnd = start + keyType.count
        if isFileNameEnd(at: nameEnd) && !matchesCaseInsensitive(at: nameEnd, Array(".pub".utf8)) {
          report(.credentialReference, at: index - 2)
        }
        return
      }
    }
    if (index == 0 || !Self.isPathWordByte(base[index - 1])) && matchesCaseInsensitive(at: start, Array("netrc".utf8))
      && isFileNameEnd(at: start + 5)
    {
      report(.credentialReference, at: index)
    }
  }

  /// After `.env`: the end, a delimiter, or `.local`/`.production`… but not a longer word
  /// (`.envrc`, `.environment`), a directory (`.env/bin/activate` is a virtualenv) or a template.
  private func isDotEnvFile(afterEnvAt position: Int) -> Bool {
    guard let base else { return false }
    guard position < end else { return true }
    let next = base[position]
    if Self.isPathWordByte(next) || next == UInt8(ascii: "/") || next == UInt8(ascii: "\\") { return false }
    guard next == UInt8(ascii: ".") else { return true }
    let suffixStart = position + 1
    let suffixEnd = scanName(from: suffixStart, limit: 16, Self.isASCIILetter)
    if suffixEnd == suffixStart { return true }
    return !nameIn(Self.envTemplateSuffixes, from: suffixStart, to: suffixEnd)
  }

  /// Whether `path` (lowercase, `/` standing for either slash) appears at `start`.
  private func matchesPath(at start: Int, _ path: [UInt8]) -> Bool {
    guard let base, start + path.count <= end else { return false }
    for offset in 0..<path.count {
      let byte = Self.lowercased(base[start + offset])
      let expected = path[offset]
      if byte == expected { continue }
      if expected == UInt8(ascii: "/") && byte == UInt8(ascii: "\\") { continue }
      return false
    }
    return true
  }

  private func isFileNameEnd(at position: Int) -> Bool {
    guard let base else { return false }
    guard position < end else { return true }
    let byte = base[position]
    return !(Self.isASCIILetter(byte) || byte &- UInt8(ascii: "0") < 10 || byte == UInt8(ascii: "_"))
  }

  @inline(__always) static func isPathWordByte(_ byte: UInt8) -> Bool {
    isNameByte(byte)
  }
}
