import CEL

/// The CEL view of one record: `payload`, `record` and `ce` (docs/rules.md).
struct DecodedRecord: Sendable {
    var payload: CELValue
    var record: CELValue
    var ce: CELValue
}

/// Turns a `SourceRecord` into the values rule expressions see, understanding CloudEvents in binary mode
/// (`ce_*` headers, `content-type`) and structured mode (`application/cloudevents+json`, or any JSON object with
/// `specversion`, `id`, `source` and `type` on a record without `ce_` headers).
struct RecordDecoder: Sendable {
    var maximumDepth: Int

    /// - Parameter projection: what to build of a JSON value (nil: all of it; see ``RuleSet``).
    ///   - buildsRecord: false when no expression reads `record`: it is then left null.
    func decode(
        _ source: SourceRecord, projection: JSONParser.Projection? = nil, buildsRecord: Bool = true
    ) throws(RulesError) -> DecodedRecord {
        var headers: [(String, CELValue)] = []
        var attributes: [(String, CELValue)] = []
        var contentType: String?
        // Positions by name, so a record with thousands of headers costs linear time, not quadratic.
        var headerPositions: [String: Int] = [:]
        var attributePositions: [String: Int] = [:]
        for header in source.headers {
            let value = String(decoding: header.value, as: UTF8.self)
            if !buildsRecord {
                // Only the content type and CloudEvents attributes matter.
            } else if let position = headerPositions[header.name] {
                headers[position].1 = .string(value)
            } else {
                headerPositions[header.name] = headers.count
                headers.append((header.name, .string(value)))
            }
            let lowered = header.name.lowercased()
            if lowered == "content-type" {
                contentType = value
            } else if lowered.hasPrefix("ce_") {
                let name = String(lowered.dropFirst(3))
                let attributeValue = try attribute(name, value)
                if let position = attributePositions[name] {
                    attributes[position].1 = attributeValue
                } else {
                    attributePositions[name] = attributes.count
                    attributes.append((name, attributeValue))
                }
            }
        }
        let record =
            !buildsRecord
            ? CELValue.null
            : CELValue.map(
                CELMap(
                    [
                        ("topic", .string(source.topic)),
                        ("partition", .int(Int64(source.partition))),
                        ("offset", .int(source.offset)),
                        ("key", source.key.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null),
                        ("timestamp", .timestamp(source.timestamp ?? CELTimestamp(seconds: 0))),
                        ("headers", .map(CELMap(headers))),
                    ] as [(String, CELValue)])
            )
        let mediaType = contentType.map(Self.mediaType) ?? ""
        if mediaType == "application/cloudevents+json" {
            return try decodeStructured(source, record: record, projection: projection)
        }
        if mediaType == "application/cloudevents-batch+json" {
            throw RulesError(
                code: .decode,
                message: "CloudEvents batch mode (application/cloudevents-batch+json) is not supported; "
                    + "publish one event per record"
            )
        }
        if !attributes.isEmpty, let contentType {
            attributes.append(("datacontenttype", .string(contentType)))
        }
        let payload: CELValue
        if mediaType.isEmpty || Self.isJSON(mediaType) {
            payload = try json(source, projection: projection)
            // Structured mode as SDKs write it: the envelope with content-type set to the event's
            // datacontenttype (e.g. application/json), or no content-type at all.
            if attributes.isEmpty, case .map(let envelope) = payload, Self.isCloudEventEnvelope(envelope) {
                // The SDK moves datacontenttype to the content-type header; it is an attribute all the same.
                var extra: [(String, CELValue)] = []
                if let contentType, envelope["datacontenttype"] == nil {
                    extra.append(("datacontenttype", .string(contentType)))
                }
                return try structured(envelope, record: record, extraAttributes: extra)
            }
        } else if let text = String(validating: source.value, as: UTF8.self) {
            payload = .string(text)
        } else {
            payload = .bytes(source.value)
        }
        return DecodedRecord(payload: payload, record: record, ce: .map(CELMap(attributes)))
    }

    private func json(_ source: SourceRecord, projection: JSONParser.Projection?) throws(RulesError) -> CELValue {
        if let parsed = source.parsedValue { return parsed }
        if source.value.isEmpty {
            throw RulesError(code: .decode, message: "record value is empty (a tombstone?); expected JSON")
        }
        do {
            return try JSONParser.parse(source.value, maximumDepth: maximumDepth, projection: projection)
        } catch {
            throw RulesError(
                code: .decode,
                message: "record value is not valid JSON: \(error.message) at byte \(error.offset)"
            )
        }
    }

    /// A JSON object with the four required CloudEvents attributes (`specversion`, `id`, `source`, `type`) as
    /// strings: a structured-mode event, whatever the record's `content-type` says.
    static func isCloudEventEnvelope(_ envelope: CELMap) -> Bool {
        ["specversion", "id", "source", "type"].allSatisfy {
            if case .string? = envelope[$0] { return true }
            return false
        }
    }

    private func decodeStructured(
        _ source: SourceRecord, record: CELValue, projection: JSONParser.Projection?
    ) throws(RulesError) -> DecodedRecord {
        guard case .map(let envelope) = try json(source, projection: projection) else {
            throw RulesError(
                code: .decode, message: "structured CloudEvent (application/cloudevents+json) is not a JSON object")
        }
        return try structured(envelope, record: record)
    }

    private func structured(
        _ envelope: CELMap, record: CELValue, extraAttributes: [(String, CELValue)] = []
    ) throws(RulesError) -> DecodedRecord {
        var attributes: [(String, CELValue)] = []
        var payload = CELValue.null
        for (key, value) in envelope.entries {
            guard case .string(let name) = key else { continue }
            switch name {
            case "data": payload = value
            case "data_base64":
                guard case .string(let text) = value, let data = Base64.decode(text) else {
                    throw RulesError(code: .decode, message: "structured CloudEvent 'data_base64' is not base64")
                }
                payload = .bytes(data)
            case "time":
                guard case .string(let text) = value else {
                    throw RulesError(code: .decode, message: "CloudEvent attribute 'time' is not a string")
                }
                attributes.append((name, try attribute(name, text)))
            default:
                attributes.append((name, value))
            }
        }
        guard envelope["specversion"] != nil else {
            throw RulesError(code: .decode, message: "structured CloudEvent has no 'specversion' attribute")
        }
        return DecodedRecord(payload: payload, record: record, ce: .map(CELMap(attributes + extraAttributes)))
    }

    /// `time` becomes a CEL timestamp; every other attribute stays a string.
    private func attribute(_ name: String, _ value: String) throws(RulesError) -> CELValue {
        guard name == "time" else { return .string(value) }
        guard let timestamp = RFC3339.parse(value) else {
            throw RulesError(code: .decode, message: "CloudEvent attribute 'time' is not an RFC 3339 time: '\(value)'")
        }
        return .timestamp(timestamp)
    }

    static func mediaType(_ contentType: String) -> String {
        let base = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        return base.trimmingSpaces().lowercased()
    }

    static func isJSON(_ mediaType: String) -> Bool {
        mediaType == "application/json" || mediaType == "text/json" || mediaType.hasSuffix("+json")
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
