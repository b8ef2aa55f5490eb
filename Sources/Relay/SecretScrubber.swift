import Foundation
import Synchronization

// MARK: - SecretScrubber

/// Removes anything that looks like an API key from text before it leaves the process (record headers, logs,
/// error messages): `sk_live_…` and `sk_test_…` keys, `Bearer …` tokens, `api_key=…` / `"api_key": "…"`
/// values, any exact secret the caller knows (the configured key), and every secret registered with
/// ``register(_:)`` (each key read from `api_key_file`, also after a rotation; `sasl.*` and `ssl.key.*` values of
/// `kafka.client_properties`).
public enum SecretScrubber {
    /// What replaces a secret.
    public static let redaction = "[redacted]"

    /// Secrets registered for the life of the process, longest first (so a secret containing another is removed
    /// whole).
    private static let registered = Mutex<[String]>([])

    /// Adds an exact secret that every later ``scrub(_:knownSecrets:)`` removes, wherever it is called from
    /// (log output, error messages, retry and dead-letter headers). Registering twice is harmless.
    ///
    /// Strings shorter than ``minimumRegisteredLength`` are ignored: removing them everywhere would mangle ordinary
    /// words, and no real key or password is that short. A multi-line secret (a PEM key) is also registered line
    /// by line (lines of 8 or more characters), since a JSON log line or a Swift description shows its newlines
    /// escaped.
    ///
    /// - Parameter secret: the secret, e.g. a key just read from `api_key_file`.
    public static func register(_ secret: String) {
        guard secret.count >= minimumRegisteredLength else { return }
        var variants = [secret]
        if secret.contains(where: \.isNewline) {
            variants += secret.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0.count >= 8 }
        }
        registered.withLock { secrets in
            for variant in variants where !secrets.contains(variant) {
                secrets.append(variant)
            }
            secrets.sort { $0.count > $1.count }
        }
    }

    /// The shortest secret ``register(_:)`` keeps.
    public static let minimumRegisteredLength = 4

    /// The secrets registered so far.
    public static var registeredSecrets: [String] { registered.withLock { $0 } }

    /// Registers the values of the librdkafka properties that hold credentials (see
    /// ``isCredentialProperty(_:)``).
    ///
    /// - Parameter properties: `kafka.client_properties`.
    public static func registerCredentials(in properties: [String: String]) {
        for (name, value) in properties where isCredentialProperty(name) {
            register(value)
        }
    }

    /// Whether a librdkafka property's value is a credential, scrubbed wherever it appears: every `ssl.key.*`
    /// (the client key, its password), `ssl.keystore.password`, and the `sasl.*` properties that hold a password,
    /// secret, passphrase, key or a config string (`sasl.password`, `sasl.oauthbearer.client.secret`,
    /// `sasl.oauthbearer.config`, `sasl.oauthbearer.assertion.private.key.*`, …).
    ///
    /// Names and choices (`sasl.username`, `sasl.mechanisms`, `sasl.kerberos.service.name`) are not: the relay
    /// never logs its properties, and removing a user name such as `affonso-relay` from every line would mangle
    /// logger labels and topic names.
    public static func isCredentialProperty(_ name: String) -> Bool {
        let name = name.lowercased()
        if name.hasPrefix("ssl.key.") || name == "ssl.keystore.password" { return true }
        guard name.hasPrefix("sasl.") else { return false }
        return ["password", "secret", "passphrase", "key", "config", "pem"].contains { name.contains($0) }
    }

    /// Returns `text` with secrets replaced by `[redacted]`; the recognisable prefix (`sk_live_`, `Bearer `) is kept
    /// so a reader can still tell what kind of secret was there.
    ///
    /// - Parameters:
    ///   - text: The text to clean.
    ///   - knownSecrets: Exact secrets to remove wherever they appear (for example the configured API key);
    ///     empty strings are ignored.
    public static func scrub(_ text: String, knownSecrets: [String] = []) -> String {
        var text = text
        for secret in (knownSecrets + registeredSecrets).sorted(by: { $0.count > $1.count }) where !secret.isEmpty {
            text = text.replacing(secret, with: Self.redaction)
        }
        let input = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            if let end = Self.matchKeyPrefix(input, at: index) {
                // Keep `sk_live_` / `sk_test_`, redact the rest of the token.
                output.append(contentsOf: input[index..<end])
                let tokenEnd = Self.skip(input, from: end, while: Self.isKeyCharacter)
                if tokenEnd > end {
                    output.append(contentsOf: Self.redaction.utf8)
                }
                index = tokenEnd
            } else if let (kept, tokenStart) = Self.matchLabel(input, at: index) {
                output.append(contentsOf: input[index..<kept])
                output.append(contentsOf: input[kept..<tokenStart])
                output.append(contentsOf: Self.redaction.utf8)
                index = Self.skip(input, from: tokenStart, while: Self.isTokenCharacter)
            } else {
                output.append(input[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    // MARK: - Matching

    private static let keyPrefixes: [[UInt8]] = [Array("sk_live_".utf8), Array("sk_test_".utf8)]
    private static let labels: [[UInt8]] = [
        Array("bearer".utf8), Array("api_key".utf8), Array("api-key".utf8), Array("apikey".utf8),
        Array("x-api-key".utf8),
    ]

    /// The end of a `sk_live_` / `sk_test_` prefix at `index`, if there is one at a word start.
    private static func matchKeyPrefix(_ input: [UInt8], at index: Int) -> Int? {
        guard index == 0 || !Self.isKeyCharacter(input[index - 1]) else { return nil }
        for prefix in Self.keyPrefixes where Self.hasPrefix(input, prefix, at: index, caseInsensitive: false) {
            return index + prefix.count
        }
        return nil
    }

    /// A label (`Bearer`, `api_key`, …) at a word start followed by separators and a token: returns where the
    /// label ends and where the token starts.
    private static func matchLabel(_ input: [UInt8], at index: Int) -> (Int, Int)? {
        guard index == 0 || !Self.isKeyCharacter(input[index - 1]) else { return nil }
        for label in Self.labels where Self.hasPrefix(input, label, at: index, caseInsensitive: true) {
            let labelEnd = index + label.count
            let isBearer = label.first == UInt8(ascii: "b")
            // `Bearer <token>`; `api_key=<token>`, `api_key: <token>`, `"api_key": "<token>"`.
            let tokenStart = Self.skip(input, from: labelEnd) { byte in
                isBearer
                    ? byte == UInt8(ascii: " ")
                    : byte == UInt8(ascii: " ") || byte == UInt8(ascii: "=") || byte == UInt8(ascii: ":")
                        || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")
            }
            guard tokenStart > labelEnd, tokenStart < input.count, Self.isTokenCharacter(input[tokenStart]) else {
                continue
            }
            if !isBearer {
                // Require an `=` or `:` between label and token, so prose like "api key missing" stays.
                let separators = input[labelEnd..<tokenStart]
                guard separators.contains(UInt8(ascii: "=")) || separators.contains(UInt8(ascii: ":")) else {
                    continue
                }
            }
            return (labelEnd, tokenStart)
        }
        return nil
    }

    private static func hasPrefix(_ input: [UInt8], _ prefix: [UInt8], at index: Int, caseInsensitive: Bool) -> Bool {
        guard index + prefix.count <= input.count else { return false }
        for offset in 0..<prefix.count {
            var byte = input[index + offset]
            if caseInsensitive, byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") {
                byte += 32
            }
            if byte != prefix[offset] {
                return false
            }
        }
        return true
    }

    private static func skip(_ input: [UInt8], from start: Int, while predicate: (UInt8) -> Bool) -> Int {
        var index = start
        while index < input.count, predicate(input[index]) {
            index += 1
        }
        return index
    }

    private static func isKeyCharacter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "-")
    }

    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        Self.isKeyCharacter(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "~")
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "=")
    }
}
