import Foundation
import Rules
import Yams

/// Reads Yams nodes of one file into typed values, collecting `file:line:col` diagnostics instead of stopping at
/// the first problem. Expands `${VAR}` in every scalar.
final class YAMLReader {
    let file: String
    let lines: SourceLines
    let environment: [String: String]
    /// When false, an unset `${VAR}` expands to the empty string (used outside the parts a command needs).
    var requiresVariables = true
    /// When true, an example whose `value_file` cannot be read is left out instead of being an error: the relay
    /// itself never runs examples, and a pod has no fixture files (`rules test` still requires them).
    var examplesOptional = false
    private(set) var diagnostics: [ConfigDiagnostic] = []
    /// Where some keys were written (`kafka.client_properties`), for checks made after loading.
    private(set) var positions: [String: RelayConfigLoader.Position] = [:]

    init(file: String, text: String, environment: [String: String]) {
        self.file = file
        lines = SourceLines(text)
        self.environment = environment
    }

    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    func error(_ node: Node?, _ message: String) {
        let mark = node?.mark
        diagnostics.append(
            ConfigDiagnostic(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, message: message))
    }

    func error(line: Int, column: Int, _ message: String) {
        diagnostics.append(ConfigDiagnostic(file: file, line: line, column: column, message: message))
    }

    func add(_ diagnostic: ConfigDiagnostic) { diagnostics.append(diagnostic) }

    func remember(_ key: String, _ node: Node) {
        positions[key] = RelayConfigLoader.Position(line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    func location(of node: Node) -> ExpressionLocation {
        let mark = node.mark
        var style = ExpressionLocation.Style.plain
        if case .scalar(let scalar) = node {
            switch scalar.style {
            case .singleQuoted: style = .singleQuoted
            case .doubleQuoted: style = .doubleQuoted
            case .literal, .folded: style = .block
            default: style = .plain
            }
        }
        return ExpressionLocation(
            file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, style: style, lines: lines)
    }

    // MARK: - Parsing

    /// Parses the file's text; nil (with a diagnostic) when it is not YAML.
    func compose(_ text: String) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            switch error {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                let detail = context.map { "\(problem) (\($0.text) at line \($0.mark.line))" } ?? problem
                self.error(line: mark.line, column: mark.column, "invalid YAML: \(detail)")
            case .reader(let problem, _, _, _):
                self.error(line: 0, column: 0, "invalid YAML: \(problem)")
            default:
                self.error(line: 0, column: 0, "invalid YAML: \(error)")
            }
            return nil
        } catch {
            self.error(line: 0, column: 0, "invalid YAML: \(error)")
            return nil
        }
    }

    // MARK: - Structure

    /// The entries of a mapping, after checking its keys against `allowed` (unknown keys get a "did you mean").
    func mapping(_ node: Node, _ what: String, allowed: [String]? = nil) -> [(key: String, keyNode: Node, value: Node)]?
    {
        guard case .mapping(let mapping) = node else {
            error(node, "\(what) must be a mapping (key: value)")
            return nil
        }
        var entries: [(key: String, keyNode: Node, value: Node)] = []
        var seen = Set<String>()
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                error(keyNode, "keys of \(what) must be plain strings")
                continue
            }
            let key = scalar.string
            if !seen.insert(key).inserted {
                error(keyNode, "duplicate key '\(key)' in \(what)")
                continue
            }
            if let allowed, !allowed.contains(key) {
                let hint = Suggestion.closest(to: key, in: allowed).map { "; did you mean '\($0)'?" } ?? ""
                error(keyNode, "unknown key '\(key)' in \(what)\(hint)")
                continue
            }
            entries.append((key, keyNode, value))
        }
        return entries
    }

    func sequence(_ node: Node, _ what: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            error(node, "\(what) must be a list")
            return nil
        }
        return Array(sequence)
    }

    // MARK: - Scalars

    /// The scalar's text with `${VAR}` expanded. Non-scalars are errors.
    func string(_ node: Node, _ what: String) -> String? {
        guard case .scalar(let scalar) = node else {
            error(node, "\(what) must be a single value, not a \(node.isMapping ? "mapping" : "list")")
            return nil
        }
        return expand(scalar.string, node)
    }

    /// The scalar as text, or nil when it is YAML `null` / `~` / empty.
    func optionalString(_ node: Node, _ what: String) -> String? {
        if case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any,
            node.tag.rawValue == Tag.Name.null.rawValue
        {
            return nil
        }
        return string(node, what)
    }

    /// Expands `${VAR}`, `${VAR:-default}`, `${VAR:?message}` and `${file:PATH}` in `text`; `$$` is a `$`.
    /// Returns nil (with a diagnostic at the reference) when a required value is missing.
    func expand(_ text: String, _ node: Node) -> String? {
        guard text.contains("$") else { return text }
        var output = ""
        var index = text.startIndex
        var ok = true
        while index < text.endIndex {
            let character = text[index]
            if character == "$", text[text.index(after: index)...].hasPrefix("$") {
                output.append("$")
                index = text.index(index, offsetBy: 2)
                continue
            }
            if character == "$", text[text.index(after: index)...].hasPrefix("{"),
                let close = text[index...].firstIndex(of: "}")
            {
                let reference = String(text[text.index(index, offsetBy: 2)..<close])
                switch resolve(reference) {
                case .success(let value):
                    output += value
                case .failure(let problem):
                    if requiresVariables {
                        let mark = node.mark
                        let offset = text.distance(from: text.startIndex, to: index)
                        let quoted =
                            node.scalar.map { $0.style == .singleQuoted || $0.style == .doubleQuoted } ?? false
                        error(
                            line: mark?.line ?? 0,
                            column: (mark?.column ?? 0) + offset + (quoted ? 1 : 0),
                            problem.message
                        )
                        ok = false
                    }
                }
                index = text.index(after: close)
                continue
            }
            output.append(character)
            index = text.index(after: index)
        }
        return ok ? output : nil
    }

    /// Why a `${…}` reference has no value (where unset values are tolerated, it expands to "").
    struct ExpansionProblem: Error {
        var message: String
    }

    /// The value of the text between `${` and `}`.
    private func resolve(_ reference: String) -> Result<String, ExpansionProblem> {
        if reference.hasPrefix("file:") {
            let path = String(reference.dropFirst(5))
            let resolved =
                path.hasPrefix("/") || path.isEmpty ? path : RelayConfigLoader.directory(of: file) + "/" + path
            guard !path.isEmpty, let data = FileManager.default.contents(atPath: resolved),
                let content = String(data: data, encoding: .utf8)
            else {
                return .failure(
                    ExpansionProblem(
                        message: "cannot read the file '\(resolved)' (referenced as ${\(reference)}); check the path "
                            + "and that the relay may read it"))
            }
            // Secret files usually end with a newline the value must not carry.
            var value = Substring(content)
            while let last = value.last, last == "\n" || last == "\r" { value = value.dropLast() }
            return .success(String(value))
        }
        if let range = reference.range(of: ":-") {
            let name = String(reference[..<range.lowerBound])
            if let value = environment[name], !value.isEmpty { return .success(value) }
            return .success(String(reference[range.upperBound...]))
        }
        if let range = reference.range(of: ":?") {
            let name = String(reference[..<range.lowerBound])
            if let value = environment[name], !value.isEmpty { return .success(value) }
            let custom = String(reference[range.upperBound...])
            return .failure(
                ExpansionProblem(
                    message: "environment variable '\(name)' is not set: "
                        + (custom.isEmpty ? "export it (referenced as ${\(reference)})" : custom)))
        }
        if let value = environment[reference] { return .success(value) }
        return .failure(
            ExpansionProblem(
                message: "environment variable '\(reference)' is not set (referenced as ${\(reference)}); export it, "
                    + "give a default with ${\(reference):-value}, or remove the reference"))
    }

    func bool(_ node: Node, _ what: String) -> Bool? {
        guard let text = string(node, what) else { return nil }
        switch text {
        case "true", "True", "TRUE", "yes", "on": return true
        case "false", "False", "FALSE", "no", "off": return false
        default:
            error(node, "\(what) must be true or false, got '\(text)'")
            return nil
        }
    }

    /// A whole number written in digits (`_` separators allowed) within `minimum...maximum`. Anything else (a
    /// fraction, an exponent such as `1e30`, more digits than an `Int` holds, a value out of range) is an error at
    /// the value's line and column that says the accepted range; it never traps.
    func integer(_ node: Node, _ what: String, minimum: Int = 0, maximum: Int = .max) -> Int? {
        guard let text = string(node, what) else { return nil }
        let digits = text.replacingUnderscores()
        guard let value = Int(digits) else {
            let body = digits.hasPrefix("-") || digits.hasPrefix("+") ? digits.dropFirst() : Substring(digits)
            if !body.isEmpty && body.allSatisfy({ $0.isASCII && $0.isNumber }) {
                let bound = digits.hasPrefix("-") ? "at least \(minimum)" : "at most \(maximum)"
                error(
                    node,
                    "\(what) is out of range: \(Self.shortened(text)) has \(body.count) digits; it must be \(bound)")
            } else {
                error(
                    node,
                    "\(what) must be a whole number written in digits (such as 1048576), got '\(Self.shortened(text))'")
            }
            return nil
        }
        guard value >= minimum else {
            error(node, "\(what) must be at least \(minimum), got \(value)")
            return nil
        }
        guard value <= maximum else {
            error(node, "\(what) must be at most \(maximum), got \(value)")
            return nil
        }
        return value
    }

    /// The longest duration any setting accepts: ten years, far beyond any sensible timeout, delay or window, and
    /// well within the nanosecond range of `Int64` that NIO's `TimeAmount` and librdkafka's millisecond settings
    /// use.
    static let maximumDuration = Duration.seconds(10 * 365 * 86_400)

    /// Why a duration was refused.
    enum DurationProblem: Error, Equatable {
        /// Not of the form `250ms`, `30s`, `5m`, `1h`.
        case malformed
        /// Longer than ``YAMLReader/maximumDuration``.
        case tooLong
    }

    /// `250ms`, `30s`, `5m`, `1h` (also `1.5s`, and combinations such as `1h30m`), at most ten years.
    func duration(_ node: Node, _ what: String) -> Duration? {
        guard let text = string(node, what) else { return nil }
        switch Self.checkedDuration(text) {
        case .success(let duration):
            return duration
        case .failure(.tooLong):
            error(
                node,
                "\(what) is too long: '\(Self.shortened(text))' is more than 10 years, the longest duration accepted; "
                    + "use a value such as 30s, 5m or 1h")
            return nil
        case .failure(.malformed):
            error(
                node, "\(what) must be a duration such as 250ms, 30s, 5m or 1h, got '\(Self.shortened(text))'")
            return nil
        }
    }

    static func parseDuration(_ text: String) -> Duration? {
        try? checkedDuration(text).get()
    }

    /// Parses a duration without ever trapping: each part and the total are checked against
    /// ``maximumDuration`` in floating point before they become a `Duration`.
    static func checkedDuration(_ text: String) -> Result<Duration, DurationProblem> {
        var totalSeconds = 0.0
        var total = Duration.zero
        var rest = Substring(text)
        guard !rest.isEmpty else { return .failure(.malformed) }
        let limit = Double(maximumDuration.components.seconds)
        while !rest.isEmpty {
            let number = rest.prefix { ($0.isASCII && $0.isNumber) || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return .failure(.malformed) }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1e-9
            case "us", "µs": scale = 1e-6
            case "ms": scale = 1e-3
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86_400
            default: return .failure(.malformed)
            }
            let seconds = value * scale
            totalSeconds += seconds
            guard seconds.isFinite, totalSeconds <= limit else { return .failure(.tooLong) }
            total += .nanoseconds(Int64((seconds * 1e9).rounded()))
        }
        return .success(total)
    }

    /// `text` cut to 40 characters for a message (a 400-digit number would drown the line).
    static func shortened(_ text: String) -> String {
        text.count > 40 ? text.prefix(40) + "… (\(text.count) characters)" : text
    }

    func stringList(_ node: Node, _ what: String) -> [String]? {
        guard let nodes = sequence(node, what) else { return nil }
        var strings: [String] = []
        for (index, element) in nodes.enumerated() {
            guard let text = string(element, "\(what)[\(index)]") else { return nil }
            strings.append(text)
        }
        return strings
    }

    func choice<T: RawRepresentable & CaseIterable>(_ node: Node, _ what: String, _ type: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, what) else { return nil }
        guard let value = T(rawValue: text) else {
            let options = T.allCases.map(\.rawValue)
            let hint = Suggestion.closest(to: text, in: options).map { "; did you mean '\($0)'?" } ?? ""
            error(node, "\(what) must be one of \(options.joined(separator: ", ")), got '\(text)'\(hint)")
            return nil
        }
        return value
    }
}

extension Node {
    var isMapping: Bool {
        if case .mapping = self { return true }
        return false
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { filter { $0 != "_" } }
}
