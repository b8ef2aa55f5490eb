import CEL

/// JSON and RFC 3339 helpers the configuration layer and tools share with the rules engine.
public enum RulesJSON {
    /// Canonical JSON text (sorted keys) of a value.
    public static func encode(_ value: CELValue) -> String { JSONWriter.string(value) }

    /// Parses JSON text into a value (ints that fit int64 are `.int`).
    /// - Throws: `RulesError` with code `.decode`.
    public static func decode(_ bytes: [UInt8], maximumDepth: Int = 128) throws(RulesError) -> CELValue {
        do {
            return try JSONParser.parse(bytes, maximumDepth: maximumDepth)
        } catch {
            throw RulesError(code: .decode, message: "not valid JSON: \(error.message) at byte \(error.offset)")
        }
    }

    /// Parses an RFC 3339 time.
    public static func parseTimestamp(_ text: String) -> CELTimestamp? { RFC3339.parse(text) }

    /// Formats a time as RFC 3339 in UTC.
    public static func formatTimestamp(_ timestamp: CELTimestamp) -> String { RFC3339.format(timestamp) }
}
