/// Lookup tables shared by every scan, built once and never freed. They are plain pointers so the
/// hot loop and the phrase matcher do no reference counting (and no cache-line ping-pong between
/// threads) when they read them. Immutable after `shared` is initialized, hence `@unchecked Sendable`.
struct InjectionTables: @unchecked Sendable {
  static let shared = InjectionTables()

  /// `InjectionByteClass` per byte.
  let byteClass: UnsafePointer<UInt8>
  /// `FoldedByte.prefixKeyTable`.
  let prefixFold: UnsafePointer<UInt8>
  /// `FoldedByte.asciiTable`.
  let asciiFold: UnsafePointer<UInt8>
  /// 4096-bit set of pivot-word prefix keys (`PhraseCatalog.bitmapIndex`).
  let pivotBitmap: UnsafePointer<UInt8>
  /// Open-addressed vocabulary: packed word → id.
  let slotLow: UnsafePointer<UInt64>
  let slotHigh: UnsafePointer<UInt64>
  let slotID: UnsafePointer<UInt16>
  /// Per word id: how many bytes before a pivot a family may start (0: not a pivot).
  let pivotBack: UnsafePointer<UInt16>
  /// Per word id: 1 when some family starts with it.
  let isAnchor: UnsafePointer<UInt8>
  let instructionsID: UInt16

  private init() {
    let catalog = PhraseCatalog.shared
    byteClass = Self.immortal(InjectionByteClass.table)
    prefixFold = Self.immortal(FoldedByte.prefixKeyTable)
    asciiFold = Self.immortal(FoldedByte.asciiTable)
    pivotBitmap = Self.immortal(catalog.pivotBitmap)
    slotLow = Self.immortal(catalog.slotLow)
    slotHigh = Self.immortal(catalog.slotHigh)
    slotID = Self.immortal(catalog.slotID)
    pivotBack = Self.immortal(catalog.pivotBack.map { UInt16($0) })
    isAnchor = Self.immortal(catalog.anchorPatterns.map { $0.isEmpty ? 0 : 1 })
    instructionsID = catalog.instructionsID
  }

  private static func immortal<Element>(_ values: [Element]) -> UnsafePointer<Element> {
    let pointer = UnsafeMutablePointer<Element>.allocate(capacity: max(values.count, 1))
    pointer.initialize(from: values, count: values.count)
    return UnsafePointer(pointer)
  }

  /// The vocabulary id of a word, 0 when it is not in the vocabulary. A word one typo away from
  /// "instructions" counts as it (AgentDojo's own attack text says "iunstructions").
  @inline(__always)
  func id(of key: PhraseWordKey) -> UInt16 {
    guard key.length <= 16 else { return 0 }
    var slot = PhraseCatalog.slot(key.low, key.high)
    while slotID[slot] != 0 {
      if slotLow[slot] == key.low && slotHigh[slot] == key.high { return slotID[slot] }
      slot = (slot &+ 1) & (PhraseCatalog.tableSize - 1)
    }
    if key.length >= 10 && key.length <= 13 && PhraseCatalog.isOneEditFromInstructions(key) { return instructionsID }
    return 0
  }
}
