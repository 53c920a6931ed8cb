import Foundation
import Testing

@testable import RemitAuthorizer

/// Only never-written, executable, file-backed mappings may be dropped: anything else would lose
/// relocated data or copied-on-write pages.
@Suite struct StartupMemoryTests {
  static let smaps = """
    55d0a0000000-55d0a4000000 r-xp 00000000 08:01 1234  /usr/bin/remit
    Size:              65536 kB
    Rss:               28000 kB
    Anonymous:             0 kB
    55d0a4000000-55d0a4200000 r--p 03ef0000 08:01 1234  /usr/bin/remit
    Anonymous:          1620 kB
    55d0a4200000-55d0a4600000 rw-p 04085000 08:01 1234  /usr/bin/remit
    Anonymous:          4368 kB
    7f0000000000-7f0000100000 r-xp 00000000 08:01 99  /usr/lib/x86_64-linux-gnu/libc.so.6
    Anonymous:             0 kB
    7f0000200000-7f0000300000 r-xp 00000000 08:01 77  /usr/lib/patched.so
    Anonymous:             8 kB
    7f0000400000-7f0000500000 rw-p 00000000 00:00 0
    Anonymous:          1024 kB
    7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0  [vdso]
    Anonymous:             0 kB
    7f0000600000-7f0000700000 r-xp 00000000 08:01 55  /usr/lib/no-anonymous-line.so
    Rss:                  12 kB
    """

  @Test func onlyUnwrittenFileBackedCodeIsChosen() {
    #expect(
      StartupMemory.codeMappings(smaps: Self.smaps) == [
        .init(start: 0x55d0_a000_0000, end: 0x55d0_a400_0000), .init(start: 0x7f00_0000_0000, end: 0x7f00_0010_0000),
      ])
  }

  @Test func garbageIsIgnored() {
    #expect(StartupMemory.codeMappings(smaps: "").isEmpty)
    #expect(StartupMemory.codeMappings(smaps: "zz-yy r-xp 0 0 1 /x\nAnonymous: 0 kB\n- - -\n:\n").isEmpty)
  }

  #if os(Linux)
    /// On this very process: the pages are dropped and code keeps running (it is re-read from the
    /// page cache), and a decision made afterwards is the same.
    @Test func codeRunsOnAfterItsPagesAreDropped() throws {
      let smaps = try String(contentsOfFile: "/proc/self/smaps", encoding: .utf8)
      #expect(!StartupMemory.codeMappings(smaps: smaps).isEmpty)
      let before = Self.residentKiB()
      #expect(StartupMemory.dropCodePages() > 0)
      #expect(Self.residentKiB() < before)
      let (line, _) = try JSONLogHandlerTests.line(["verdict": "allow"])
      #expect(line.contains(#""verdict":"allow""#))
    }

    static func residentKiB() -> Int {
      let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
      let line = status.split(separator: "\n").first { $0.hasPrefix("RssFile:") } ?? ""
      return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
  #endif
}
