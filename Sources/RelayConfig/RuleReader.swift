import CEL
import Foundation
import Rules
import Yams

/// Reads `rules:` entries (docs/rules.md) and remembers where each part was written.
struct RuleReader {
    let reader: YAMLReader
    /// Where `value_file` paths of examples are resolved.
    let directory: String

    static let ruleKeys = ["name", "topics", "match", "variables", "event", "refund", "examples"]

    func rules(_ node: Node) -> [(definition: RuleDefinition, locations: RuleSources.Locations)] {
        guard let nodes = reader.sequence(node, "rules") else { return [] }
        return nodes.enumerated().compactMap { rule($1, index: $0) }
    }

    private func rule(_ node: Node, index: Int) -> (definition: RuleDefinition, locations: RuleSources.Locations)? {
        guard let entries = reader.mapping(node, "rule #\(index + 1)", allowed: Self.ruleKeys) else { return nil }
        var locations = RuleSources.Locations()
        locations.rule = reader.location(of: node)
        var definition = RuleDefinition(name: "", topics: [], event: [])
        guard let nameEntry = entries.first(where: { $0.key == "name" }) else {
            reader.error(node, "rule #\(index + 1) has no name")
            return nil
        }
        definition.name = reader.string(nameEntry.value, "rule name") ?? ""
        locations.parts[.name] = reader.location(of: nameEntry.value)
        let what = "rule '\(definition.name)'"
        for entry in entries {
            switch entry.key {
            case "topics":
                locations.parts[.topics] = reader.location(of: entry.value)
                if case .scalar = entry.value, let topic = reader.string(entry.value, "\(what) topics") {
                    definition.topics = [topic]
                    locations.parts[.topic(0)] = reader.location(of: entry.value)
                } else if let nodes = reader.sequence(entry.value, "\(what) topics") {
                    for topicNode in nodes {
                        // A list or mapping in place of a name is one error, not also an empty topic name.
                        guard let topic = reader.string(topicNode, "\(what) topic") else { continue }
                        locations.parts[.topic(definition.topics.count)] = reader.location(of: topicNode)
                        definition.topics.append(topic)
                    }
                }
            case "match":
                definition.match = expression(entry.value, "\(what) match")
                locations.parts[.match] = reader.location(of: entry.value)
            case "variables":
                guard let nodes = reader.sequence(entry.value, "\(what) variables") else { continue }
                for (variableIndex, variableNode) in nodes.enumerated() {
                    let variableWhat = "\(what) variables[\(variableIndex)]"
                    guard let fields = reader.mapping(variableNode, variableWhat, allowed: ["name", "expression"]),
                        let nameField = fields.first(where: { $0.key == "name" }),
                        let expressionField = fields.first(where: { $0.key == "expression" })
                    else {
                        if case .mapping = variableNode {
                            reader.error(variableNode, "\(variableWhat) needs name and expression")
                        }
                        continue
                    }
                    let position = definition.variables.count
                    definition.variables.append(
                        .init(
                            name: reader.string(nameField.value, "\(variableWhat).name") ?? "",
                            expression: expression(expressionField.value, "\(variableWhat).expression") ?? "null"
                        )
                    )
                    locations.parts[.variableName(position)] = reader.location(of: nameField.value)
                    locations.parts[.variableExpression(position)] = reader.location(of: expressionField.value)
                }
            case "event":
                locations.parts[.event] = reader.location(of: entry.value)
                guard let fields = reader.mapping(entry.value, "\(what) event") else { continue }
                for field in fields {
                    let source = expression(field.value, "\(what) event.\(field.key)") ?? "null"
                    definition.event.append((field.key, source))
                    locations.parts[.eventKey(field.key)] = reader.location(of: field.keyNode)
                    locations.parts[.eventValue(field.key)] = reader.location(of: field.value)
                }
            case "refund":
                if entries.contains(where: { $0.key == "event" }) {
                    reader.error(
                        entry.keyNode,
                        "\(what) has both event and refund; a rule emits events or refunds, not both: split it into "
                            + "two rules")
                    continue
                }
                locations.parts[.refund] = reader.location(of: entry.value)
                definition.refund = []
                guard let fields = reader.mapping(entry.value, "\(what) refund") else { continue }
                for field in fields {
                    let source = expression(field.value, "\(what) refund.\(field.key)") ?? "null"
                    definition.refund?.append((field.key, source))
                    locations.parts[.refundKey(field.key)] = reader.location(of: field.keyNode)
                    locations.parts[.refundValue(field.key)] = reader.location(of: field.value)
                }
            case "examples":
                guard let nodes = reader.sequence(entry.value, "\(what) examples") else { continue }
                for (exampleIndex, exampleNode) in nodes.enumerated() {
                    if let example = ExampleReader(reader: reader, directory: directory)
                        .example(exampleNode, "\(what) example #\(exampleIndex + 1)")
                    {
                        locations.parts[.example(definition.examples.count)] = reader.location(of: exampleNode)
                        definition.examples.append(example)
                    }
                }
            default: break
            }
        }
        if !entries.contains(where: { $0.key == "topics" }) {
            reader.error(node, "\(what) has no topics; list topic names or \"/regex/\" patterns")
        }
        if !entries.contains(where: { $0.key == "event" || $0.key == "refund" }) {
            reader.error(
                node,
                "\(what) has no event; map at least event_name and an identifier (or, for a rule that reverses a "
                    + "conversion, a refund with its conversion)")
        }
        return (definition, locations)
    }

    /// An expression: the scalar's text as written (a YAML `true` or `5` is the CEL literal).
    private func expression(_ node: Node, _ what: String) -> String? {
        guard case .scalar = node else {
            reader.error(node, "\(what) must be a CEL expression string (quote it)")
            return nil
        }
        return reader.string(node, what)
    }
}
