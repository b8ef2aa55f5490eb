import CEL

/// The `rules apply` line format (docs/rules.md, "rules apply").
///
/// Input: `{"value": <json>}` or `{"value_base64": "…"}`, optional `key`, `headers` (object of strings),
/// `partition`, `offset`, `timestamp` (RFC 3339). Output: `{"results": […]}`, `{"skipped": true}` or
/// `{"error": {"class": …, "message": …}}`; each result is `{"rule", "event"}`, `{"rule", "refund"}` (the refund's
/// request body plus `conversion`) or `{"rule", "error"}`.
public enum ApplyLine {
    /// Reads one input line as a record of `topic`. `lineNumber` (1-based) is the default offset − 1 … so that
    /// default `external_event_id`s differ per line.
    public static func record(
        from line: [UInt8],
        topic: String,
        lineNumber: Int,
        maximumDepth: Int = 128
    ) -> Result<SourceRecord, RulesError> {
        line.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(buffer, maximumDepth: maximumDepth + 1)
            do throws(RulesError) {
                return .success(try parse(&parser, buffer, topic: topic, lineNumber: lineNumber))
            } catch {
                return .failure(error)
            }
        }
    }

    private static func parse(
        _ parser: inout JSONParser,
        _ buffer: UnsafeBufferPointer<UInt8>,
        topic: String,
        lineNumber: Int
    ) throws(RulesError) -> SourceRecord {
        func bad(_ message: String) -> RulesError {
            RulesError(code: .decode, message: "input line \(lineNumber): \(message)")
        }
        var record = SourceRecord(topic: topic, offset: Int64(lineNumber - 1), value: [])
        var hasValue = false
        var memberError: RulesError?
        do throws(JSONParser.Failure) {
            parser.skipWhitespace()
            try parser.expect(UInt8(ascii: "{"), "a JSON object")
            parser.skipWhitespace()
            if parser.current == UInt8(ascii: "}") {
                throw parser.fail("the line has neither 'value' nor 'value_base64'")
            }
            while true {
                parser.skipWhitespace()
                guard parser.current == UInt8(ascii: "\"") else { throw parser.fail("expected a member name") }
                let name = try parser.parseString()
                parser.skipWhitespace()
                try parser.expect(UInt8(ascii: ":"), "':'")
                parser.skipWhitespace()
                let start = parser.index
                if name == "value" {
                    do throws(JSONParser.Failure) {
                        record.parsedValue = try parser.parseValue()
                    } catch {
                        throw JSONParser.Failure(message: "'value': \(error.message)", offset: error.offset)
                    }
                    record.value = Array(buffer[start..<parser.index])
                    hasValue = true
                } else {
                    let value = try parser.parseValue()
                    do throws(RulesError) {
                        try assign(name, value, to: &record, hasValue: &hasValue, bad)
                    } catch {
                        memberError = error
                        break
                    }
                }
                parser.skipWhitespace()
                guard let byte = parser.current else { throw parser.fail("unexpected end of line") }
                parser.index += 1
                if byte == UInt8(ascii: ",") { continue }
                if byte == UInt8(ascii: "}") { break }
                parser.index -= 1
                throw parser.fail("expected ',' or '}'")
            }
            parser.skipWhitespace()
            if memberError == nil && !parser.isAtEnd { throw parser.fail("unexpected data after the object") }
        } catch {
            throw bad("not a valid input object: \(error.message) at byte \(error.offset)")
        }
        if let memberError { throw memberError }
        guard hasValue else { throw bad("the line has neither 'value' nor 'value_base64'") }
        return record
    }

    /// What each member of an input line must be, for the error when it is not.
    private static let expectedMember = [
        "value_base64": "a base64 string", "key": "a string or null",
        "partition": "a whole number from 0 to 2147483647", "offset": "a whole number, 0 or more",
        "timestamp": "an RFC 3339 string such as \"2026-01-01T00:00:00Z\"", "topic": "a string",
        "headers": "an object of strings",
    ]

    private static func assign(
        _ name: String,
        _ value: CELValue,
        to record: inout SourceRecord,
        hasValue: inout Bool,
        _ bad: (String) -> RulesError
    ) throws(RulesError) {
        switch (name, value) {
        case ("value_base64", .string(let text)):
            guard let data = Base64.decode(text) else { throw bad("'value_base64' is not base64") }
            record.value = data
            record.parsedValue = nil
            hasValue = true
        case ("key", .string(let text)): record.key = Array(text.utf8)
        case ("key", .null): record.key = nil
        case ("partition", .int(let number)) where number >= 0 && number <= Int64(Int32.max):
            record.partition = Int32(number)
        case ("offset", .int(let number)) where number >= 0: record.offset = number
        case ("timestamp", .string(let text)):
            guard let timestamp = RFC3339.parse(text) else {
                throw bad("'timestamp' is not an RFC 3339 time: '\(text)'")
            }
            record.timestamp = timestamp
        case ("topic", .string(let text)): record.topic = text
        case ("headers", .map(let map)):
            for (key, element) in map.entries {
                guard case .string(let header) = key, case .string(let text) = element else {
                    throw bad("'headers' must be an object of strings")
                }
                record.headers.append(.init(header, text))
            }
        case ("value_base64", _), ("key", _), ("partition", _), ("offset", _), ("timestamp", _), ("topic", _),
            ("headers", _):
            let got: String
            if case .int(let number) = value { got = "\(number)" } else { got = EventValidator.typeName(value) }
            throw bad("'\(name)' must be \(expectedMember[name] ?? "something else"), got \(got)")
        default:
            let known = ["value", "value_base64", "key", "headers", "partition", "offset", "timestamp", "topic"]
            let hint = Suggestion.closest(to: name, in: known).map { "; did you mean '\($0)'?" } ?? ""
            throw bad("unknown member '\(name)'\(hint)")
        }
    }

    /// The output line of an outcome (without the newline).
    public static func line(for outcome: RecordOutcome) -> [UInt8] {
        var writer = JSONWriter(capacity: 512)
        switch outcome {
        case .skipped:
            writer.append("{\"skipped\":true}")
        case .failed(let error):
            writer.append("{\"error\":")
            writeError(error, &writer)
            writer.append("}")
        case .results(let results):
            writer.append("{\"results\":[")
            for (index, result) in results.enumerated() {
                if index > 0 { writer.append(",") }
                writer.append("{\"rule\":")
                writer.writeString(result.rule)
                switch result.result {
                case .success(let event):
                    if let refund = event.refund {
                        // The request body plus the conversion it reverses.
                        writer.append(",\"refund\":")
                        writer.writeObject(
                            event.sortedFields + [("conversion", .string(refund.conversionExternalEventID))])
                    } else {
                        writer.append(",\"event\":")
                        writer.bytes.append(contentsOf: event.body)
                    }
                case .failure(let error):
                    writer.append(",\"error\":")
                    writeError(error, &writer)
                }
                writer.append("}")
            }
            writer.append("]}")
        }
        return writer.bytes
    }

    private static func writeError(_ error: RulesError, _ writer: inout JSONWriter) {
        writer.append("{\"class\":")
        writer.writeString(error.errorClass)
        writer.append(",\"message\":")
        writer.writeString(error.message)
        writer.append("}")
    }
}
