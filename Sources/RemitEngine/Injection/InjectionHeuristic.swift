/// The prompt-injection heuristics, by the stable id used in findings and docs (docs/injection.md).
public enum InjectionHeuristic: String, Sendable, CaseIterable, Codable {
  /// Instruction-override phrase families on normalized text ("ignore all previous instructions").
  case overridePhrase = "override_phrase"
  /// Hidden-instruction and chat-template tags: `<IMPORTANT>`, `<|im_start|>`, `[INST]`, `### system:`.
  case hiddenTag = "hidden_tag"
  /// Unicode tag characters U+E0000-E007F outside emoji flag tag sequences ("ASCII smuggling").
  case tagCharacters = "tag_characters"
  /// Runs of variation selectors (U+FE00-FE0F, U+E0100-E01EF) that can carry hidden bytes.
  case variationSelectors = "variation_selectors"
  /// Zero-width and invisible characters used to hide or split text.
  case zeroWidth = "zero_width"
  /// Bidirectional embedding, override and isolate controls (U+202A-202E, U+2066-2069).
  case bidiControl = "bidi_control"
  /// References to credential files and keys (`~/.ssh/id_rsa`, `.aws/credentials`, `/etc/shadow`).
  case credentialReference = "credential_reference"
  /// Base64 or hex runs that decode to text which itself holds an override phrase or hidden tag.
  case encodedPayload = "encoded_payload"

  var bit: UInt16 {
    switch self {
    case .overridePhrase: 1 << 0
    case .hiddenTag: 1 << 1
    case .tagCharacters: 1 << 2
    case .variationSelectors: 1 << 3
    case .zeroWidth: 1 << 4
    case .bidiControl: 1 << 5
    case .credentialReference: 1 << 6
    case .encodedPayload: 1 << 7
    }
  }
}
