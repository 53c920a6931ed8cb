/// Phrase matching around pivot words: read the word at a candidate start; if it is a pivot, read
/// the words in a short window before it and try the families anchored at each of them.
extension InjectionScanner {
  /// Longest lookahead, in words and bytes, a family may read from its first word.
  static let lookaheadWords = 26
  static let lookaheadBytes = 512

  mutating func verifyPivot(at start: Int) {
    guard let base, start < end, isOn(.overridePhrase) else { return }
    // Fast path for a plain ASCII word; anything else goes through the normalizing reader.
    var key = PhraseWordKey()
    var position = start
    var lowercaseRun = 0
    var plain = true
    while position < end {
      let byte = base[position]
      if byte >= 0x80 || byte == UInt8(ascii: "'") {
        plain = false
        break
      }
      let folded = tables.asciiFold[Int(byte)]
      guard FoldedByte.isWordCharacter(folded) else { break }
      let isUppercase = byte &- UInt8(ascii: "A") < 26
      if isUppercase && lowercaseRun >= 2 { break }
      lowercaseRun = byte &- UInt8(ascii: "a") < 26 ? lowercaseRun + 1 : 0
      key.append(folded)
      if key.length > 16 { return }
      position += 1
    }
    var wordStart = start
    if !plain || key.length == 0 {
      var reader = PhraseWordReader(base: base, end: end, position: start)
      guard let word = reader.next(&key) else { return }
      wordStart = word.start
    }
    let back = Int(tables.pivotBack[Int(tables.id(of: key))])
    guard back > 0 else { return }
    phraseWindow(pivotStart: wordStart, back: back)
  }

  /// Tries every family anchor from `back` bytes before the pivot up to the pivot itself. Anchors
  /// before `phraseCoveredUntil` were tried by an earlier window, so each is tried once.
  private mutating func phraseWindow(pivotStart: Int, back: Int) {
    guard let base, pivotStart >= phraseCoveredUntil else { return }
    var start = max(pivotStart - back, phraseCoveredUntil)
    if start > 0 {
      // Start on a separator so the first word read is whole.
      while start < pivotStart && !(base[start] < 0x80 && tables.asciiFold[Int(base[start])] == 0) {
        start += 1
      }
    }
    var reader = PhraseWordReader(base: base, end: end, position: start)
    var key = PhraseWordKey()
    var previous: PhraseWord?
    while let read = reader.next(&key), read.start <= pivotStart {
      let word = PhraseWord(
        id: tables.id(of: key), start: read.start, breakBefore: read.breakBefore, colonAfter: read.colonAfter)
      if tables.isAnchor[Int(word.id)] != 0
        && matchesFamily(anchor: word, previous: previous, continuingAt: reader.position)
      {
        report(.overridePhrase, at: word.start)
        break
      }
      previous = word
    }
    phraseCoveredUntil = pivotStart + 1
  }

  private func matchesFamily(anchor: PhraseWord, previous: PhraseWord?, continuingAt position: Int) -> Bool {
    guard let base else { return false }
    let catalog = PhraseCatalog.shared
    // "do not ignore the instructions" is advice, not an attack; a sentence break in between resets that.
    let negated = previous.map { catalog.negationWords.contains($0.id) && !anchor.breakBefore } ?? false
    return withUnsafeTemporaryAllocation(of: PhraseWord.self, capacity: Self.lookaheadWords) { storage in
      guard let storage = storage.baseAddress else { return false }
      storage.initialize(to: anchor)
      var words = LazyPhraseWords(
        reader: PhraseWordReader(base: base, end: min(end, anchor.start + Self.lookaheadBytes), position: position),
        storage: storage, capacity: Self.lookaheadWords)
      defer { storage.deinitialize(count: words.count) }
      for patternIndex in catalog.anchorPatterns[Int(anchor.id)] {
        let pattern = catalog.patterns[patternIndex]
        if negated && pattern.negatable { continue }
        if Self.match(pattern, element: 0, word: 0, &words) { return true }
      }
      return false
    }
  }

  /// Backtracking over a family's elements; depth is the number of elements, width the largest
  /// repetition, both small constants.
  private static func match(
    _ pattern: PhraseCatalog.Pattern, element: Int, word: Int, _ words: inout LazyPhraseWords
  ) -> Bool {
    guard element < pattern.elements.count else {
      if pattern.needsColonAfter { return word > 0 && words.word(at: word - 1)?.colonAfter == true }
      return true
    }
    let current = pattern.elements[element]
    var taken = 0
    while taken < current.maximum, let next = words.word(at: word + taken), current.words.contains(next.id) {
      taken += 1
    }
    while taken >= current.minimum {
      if match(pattern, element: element + 1, word: word + taken, &words) { return true }
      if taken == 0 { break }
      taken -= 1
    }
    return false
  }
}

/// Words after a family's anchor, read only as far as a match attempt looks.
struct LazyPhraseWords {
  var reader: PhraseWordReader
  let storage: UnsafeMutablePointer<PhraseWord>
  let capacity: Int
  private(set) var count = 1
  private var exhausted = false

  init(reader: PhraseWordReader, storage: UnsafeMutablePointer<PhraseWord>, capacity: Int) {
    self.reader = reader
    self.storage = storage
    self.capacity = capacity
  }

  mutating func word(at index: Int) -> PhraseWord? {
    while count <= index && !exhausted && count < capacity {
      var key = PhraseWordKey()
      guard let read = reader.next(&key) else {
        exhausted = true
        break
      }
      (storage + count).initialize(
        to: PhraseWord(
          id: InjectionTables.shared.id(of: key), start: read.start, breakBefore: read.breakBefore,
          colonAfter: read.colonAfter))
      count += 1
    }
    return index < count ? storage[index] : nil
  }
}
