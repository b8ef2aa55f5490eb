// MARK: - SecretScrubber

/// Removes anything that looks like an API key from text before it leaves the process (record headers, logs,
/// error messages): `sk_live_…` and `sk_test_…` keys, `Bearer …` tokens, `api_key=…` / `"api_key": "…"`
/// values, and any exact secret the caller knows (the configured key).
public enum SecretScrubber {
    /// What replaces a secret.
    public static let redaction = "[redacted]"

    /// Returns `text` with secrets replaced by `[redacted]`; the recognisable prefix (`sk_live_`, `Bearer `) is kept
    /// so a reader can still tell what kind of secret was there.
    ///
    /// - Parameters:
    ///   - text: The text to clean.
    ///   - knownSecrets: Exact secrets to remove wherever they appear (for example the configured API key);
    ///     empty strings are ignored.
    public static func scrub(_ text: String, knownSecrets: [String] = []) -> String {
        var text = text
        for secret in knownSecrets where !secret.isEmpty {
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
