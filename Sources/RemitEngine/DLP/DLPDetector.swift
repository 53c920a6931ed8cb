/// Built-in detector ids: stable API (SPEC section 3). The raw values are what policies name.
public enum DLPDetector: String, CaseIterable, Sendable, Codable {
  case creditCard = "credit_card"
  case usSSN = "us_ssn"
  case iban
  case email
  case phone
  case awsAccessKey = "aws_access_key"
  case githubToken = "github_token"
  case slackToken = "slack_token"
  case stripeKey = "stripe_key"
  case googleAPIKey = "google_api_key"
  case openAIKey = "openai_key"
  case anthropicKey = "anthropic_key"
  case privateKey = "private_key"
  case jwt
  case genericSecret = "generic_secret"
}

/// A checksum a custom detector may require of its regex match before it counts.
public enum DLPValidator: String, Sendable, Codable, CaseIterable {
  /// The digits of the match (other characters ignored) pass the Luhn check; at least 8 digits.
  case luhn
  /// The letters and digits of the match pass ISO 7064 mod-97-10 as in IBANs (first four moved to
  /// the end, letters as 10...35); at least 5 characters.
  case mod97
}
