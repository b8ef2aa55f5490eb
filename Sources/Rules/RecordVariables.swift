import CEL

/// What a rule's expressions see for a record: `payload`, `record`, `ce` and (empty) `variables`, exactly as the
/// relay decodes it (CloudEvents in binary and structured mode, JSON numbers as `int` or `double`).
public enum RecordVariables {
    /// - Parameters:
    ///   - record: the record.
    ///   - maximumJSONDepth: how deeply the value may nest.
    /// - Returns: the variables by name.
    /// - Throws: ``RulesError`` of class `decode` when the value cannot be decoded.
    public static func of(_ record: SourceRecord, maximumJSONDepth: Int = 128) throws(RulesError) -> [String: CELValue]
    {
        let decoded = try RecordDecoder(maximumDepth: maximumJSONDepth).decode(record)
        return ["payload": decoded.payload, "record": decoded.record, "ce": decoded.ce, "variables": .map(CELMap())]
    }
}
