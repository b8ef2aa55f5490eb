import CEL
import Foundation
import Rules
import Yams

/// Reads a rule's `examples` entry: `{name, record: {key, value | value_base64 | value_file, headers, …},
/// expect: {event: {…}, absent: [field, …]} | {refund: {…}, absent: [field, …]} | {skip: true} | {error: "substring"}}`.
struct ExampleReader {
    let reader: YAMLReader
    let directory: String

    func example(_ node: Node, _ what: String) -> RuleExample? {
        guard let entries = reader.mapping(node, what, allowed: ["name", "record", "expect"]) else { return nil }
        let name = entries.first { $0.key == "name" }.flatMap { reader.string($0.value, "\(what) name") } ?? what
        let what = "example '\(name)'"
        guard let recordNode = entries.first(where: { $0.key == "record" })?.value else {
            reader.error(node, "\(what) has no record")
            return nil
        }
        guard let expectNode = entries.first(where: { $0.key == "expect" })?.value else {
            reader.error(
                node, "\(what) has no expect ({event: {…}}, {refund: {…}}, {skip: true} or {error: \"text\"})")
            return nil
        }
        guard let record = record(recordNode, what), let (expectation, absent) = expectation(expectNode, what) else {
            return nil
        }
        let location = reader.location(of: node)
        return RuleExample(
            name: name, record: record, expectation: expectation, absent: absent,
            location: "\(location.file):\(location.line)")
    }

    private func record(_ node: Node, _ what: String) -> SourceRecord? {
        let keys = [
            "topic", "key", "value", "value_base64", "value_file", "headers", "partition", "offset", "timestamp",
        ]
        guard let entries = reader.mapping(node, "\(what) record", allowed: keys) else { return nil }
        var record = SourceRecord(topic: "", value: [])
        var values = 0
        for entry in entries {
            let field = "\(what) record.\(entry.key)"
            switch entry.key {
            case "topic": record.topic = reader.string(entry.value, field) ?? ""
            case "key": record.key = reader.optionalString(entry.value, field).map { Array($0.utf8) }
            case "value":
                values += 1
                guard let value = yamlValue(entry.value) else { return nil }
                record.value = Array(RulesJSON.encode(value).utf8)
            case "value_base64":
                values += 1
                guard let text = reader.string(entry.value, field), let data = Data(base64Encoded: text) else {
                    reader.error(entry.value, "\(field) is not base64")
                    return nil
                }
                record.value = Array(data)
            case "value_file":
                values += 1
                guard let path = reader.string(entry.value, field) else { return nil }
                let resolved = path.hasPrefix("/") ? path : directory + "/" + path
                guard let data = FileManager.default.contents(atPath: resolved) else {
                    if reader.examplesOptional { return nil }
                    reader.error(entry.value, "\(field): cannot read '\(resolved)'")
                    return nil
                }
                record.value = Array(data)
            case "headers":
                guard let headers = reader.mapping(entry.value, field) else { return nil }
                for header in headers {
                    guard let value = reader.string(header.value, "\(field).\(header.key)") else { return nil }
                    record.headers.append(.init(header.key, value))
                }
            case "partition":
                record.partition = Int32(clamping: reader.integer(entry.value, field) ?? 0)
            case "offset": record.offset = Int64(reader.integer(entry.value, field) ?? 0)
            case "timestamp":
                guard let text = reader.string(entry.value, field), let timestamp = RulesJSON.parseTimestamp(text)
                else {
                    reader.error(entry.value, "\(field) must be an RFC 3339 time")
                    return nil
                }
                record.timestamp = timestamp
            default: break
            }
        }
        if values != 1 {
            reader.error(node, "\(what) record needs exactly one of value, value_base64, value_file")
            return nil
        }
        return record
    }

    /// `{event: {…}, absent: [field, …]}` (either part may be left out), `{refund: {…}, absent: […]}`,
    /// `{skip: true}` or `{error: "text"}`.
    private func expectation(_ node: Node, _ what: String) -> (RuleExample.Expectation, absent: [String])? {
        let usage =
            "\(what) expect needs one of event or refund (with optional absent: [fields]), absent, skip, error"
        guard
            let entries = reader.mapping(
                node, "\(what) expect", allowed: ["event", "refund", "absent", "skip", "error"]),
            let entry = entries.first
        else {
            reader.error(node, usage)
            return nil
        }
        let keys = Set(entries.map(\.key))
        guard entries.count == 1 || keys == ["event", "absent"] || keys == ["refund", "absent"] else {
            reader.error(node, usage)
            return nil
        }
        let isRefund = keys.contains("refund")
        let (fieldNames, kind) = isRefund ? (RuleSet.refundFields, "refunds") : (RuleSet.eventFields, "Affonso events")
        var absent: [String] = []
        if let absentEntry = entries.first(where: { $0.key == "absent" }) {
            guard let nodes = reader.sequence(absentEntry.value, "\(what) expect.absent") else { return nil }
            for fieldNode in nodes {
                guard let field = reader.string(fieldNode, "\(what) expect.absent entry") else { return nil }
                guard fieldNames.contains(field) else {
                    let hint = Suggestion.closest(to: field, in: fieldNames).map { "; did you mean '\($0)'?" } ?? ""
                    reader.error(fieldNode, "\(what) expect.absent: '\(field)' is not a field of \(kind)\(hint)")
                    return nil
                }
                absent.append(field)
            }
        }
        switch isRefund ? "refund" : entry.key {
        case "event", "absent":
            guard let eventNode = entries.first(where: { $0.key == "event" })?.value else {
                return (.event(CELMap()), absent)
            }
            guard case .map(let map)? = yamlValue(eventNode) else {
                reader.error(eventNode, "\(what) expect.event must be a mapping of event fields")
                return nil
            }
            return (.event(map), absent)
        case "refund":
            guard let refundNode = entries.first(where: { $0.key == "refund" })?.value,
                case .map(let map)? = yamlValue(refundNode)
            else {
                reader.error(node, "\(what) expect.refund must be a mapping of refund fields")
                return nil
            }
            for case .string(let key) in map.entries.map(\.key) where !RuleSet.refundFields.contains(key) {
                let hint = Suggestion.closest(to: key, in: RuleSet.refundFields).map { "; did you mean '\($0)'?" } ?? ""
                reader.error(refundNode, "\(what) expect.refund: '\(key)' is not a field of refunds\(hint)")
                return nil
            }
            return (.refund(map), absent)
        case "skip":
            guard reader.bool(entry.value, "\(what) expect.skip") == true else {
                reader.error(entry.value, "\(what) expect.skip must be true")
                return nil
            }
            return (.skip, [])
        default:
            return reader.string(entry.value, "\(what) expect.error").map { (.error($0), []) }
        }
    }

    /// A YAML value as a JSON-like CEL value (YAML 1.2 core schema types).
    func yamlValue(_ node: Node) -> CELValue? {
        switch node {
        case .scalar(let scalar):
            let quoted = scalar.style == .singleQuoted || scalar.style == .doubleQuoted
            guard let text = reader.expand(scalar.string, node) else { return nil }
            if quoted { return .string(text) }
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return .bool(["true", "True", "TRUE"].contains(text))
            case .int: return Int64(text).map(CELValue.int) ?? Double(text).map(CELValue.double) ?? .string(text)
            case .float: return Double(text).map(CELValue.double) ?? .string(text)
            default: return .string(text)
            }
        case .mapping(let mapping):
            var entries: [(String, CELValue)] = []
            for (key, value) in mapping {
                guard let name = key.scalar?.string, let converted = yamlValue(value) else { return nil }
                entries.append((name, converted))
            }
            return .map(CELMap(entries))
        case .sequence(let sequence):
            var elements: [CELValue] = []
            for element in sequence {
                guard let converted = yamlValue(element) else { return nil }
                elements.append(converted)
            }
            return .list(elements)
        case .alias:
            reader.error(node, "YAML aliases are not supported in examples")
            return nil
        }
    }
}
