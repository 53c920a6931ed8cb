// `@testable`: the differential check below calls `DLPScanner.scanByteByByte`, an internal
// reference. scripts/fuzz.sh builds debug, where SwiftPM compiles RemitEngine with -enable-testing.
@testable import RemitEngine

/// Every built-in detector and a custom rule over arbitrary bytes: no crash, no runaway, and
/// findings that are inside the buffer, in offset order and at most the limit. Scanning the same
/// bytes again finds the same, a scan with a smaller limit finds nothing the full scan does not,
/// and the scan loop (block skipping, quick rejections) finds exactly what visiting every byte
/// (`scanByteByByte`) finds, with the custom rule and without one.
let scanner: DLPScanner = {
  do {
    let custom = try DLPCustomRule(
      id: "project-code", keywords: ["PRJ-", "ticket"], pattern: "PRJ-[0-9]{6}", validator: nil)
    return DLPScanner(builtins: Set(DLPDetector.allCases), custom: [custom])
  } catch {
    fatalError("the fuzz target's own custom rule is invalid: \(error)")
  }
}()

/// Without a custom rule the loop passes over short numbers (`resumeAt`), which it must not do
/// when a custom keyword may start inside one: both paths are compared.
let builtinsOnly = DLPScanner(builtins: Set(DLPDetector.allCases), custom: [])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDLPScan(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
  let matches = scanner.scan(bytes, limit: 64)
  guard matches.count <= 64 else { fatalError("more findings than the limit") }
  var previous = 0
  for match in matches {
    guard match.offset >= 0, match.length > 0, match.offset + match.length <= bytes.count else {
      fatalError("a finding outside the scanned bytes")
    }
    guard match.offset >= previous else { fatalError("findings out of offset order") }
    previous = match.offset
  }
  guard scanner.scan(bytes, limit: 64) == matches else { fatalError("the same bytes scanned twice differ") }
  // The loop against the byte-by-byte reference, with the custom rule and without.
  let reference = scanner.scanByteByByte(bytes, limit: 64)
  guard reference == matches else {
    fatalError("with a custom rule the scan loop found \(matches) where every byte visited finds \(reference)")
  }
  let builtinMatches = builtinsOnly.scan(bytes, limit: 64)
  let builtinReference = builtinsOnly.scanByteByByte(bytes, limit: 64)
  guard builtinMatches == builtinReference else {
    fatalError("without a custom rule the scan loop found \(builtinMatches) where every byte visited finds \(builtinReference)")
  }
  // Under a cap the kept findings are the first found, not the first by offset (a custom rule's
  // window looks ahead), so the engine rescans with only its blocking detectors when a scan is
  // capped. What a capped scan keeps must still be real: each overlaps a finding of the full scan.
  let few = scanner.scan(bytes, limit: 2)
  guard few.count <= 2 else { fatalError("more findings than a limit of 2") }
  for match in few
  where !matches.contains(where: { $0.offset < match.offset + match.length && match.offset < $0.offset + $0.length }) {
    fatalError("a capped scan found \(match.detector) where the full scan finds nothing")
  }
  return 0
}
