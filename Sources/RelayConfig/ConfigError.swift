/// A problem in `relay.yaml` or a rule file, at a line and column.
public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error, warning
    }

    public var severity: Severity
    public var file: String
    /// 1-based; 0 when the problem is about the whole file.
    public var line: Int
    /// 1-based, in characters.
    public var column: Int
    public var message: String
    /// True for problems of the rules (the `rules` section and rule files), false for the other settings.
    public var isAboutRules = false

    public init(severity: Severity = .error, file: String, line: Int, column: Int, message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line:col: message`, or `file:line:col: warning: message`.
    public var description: String {
        let place = line > 0 ? "\(file):\(line):\(column)" : file
        return severity == .warning ? "\(place): warning: \(message)" : "\(place): \(message)"
    }

    func markedAboutRules() -> ConfigDiagnostic {
        var marked = self
        marked.isAboutRules = true
        return marked
    }
}

/// The configuration could not be loaded: one or more errors (and any warnings found on the way).
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    public init(diagnostics: [ConfigDiagnostic]) { self.diagnostics = diagnostics }

    public var errors: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .error } }

    /// True when every error is about the rules (none about the other settings).
    public var isAboutRulesOnly: Bool { errors.allSatisfy(\.isAboutRules) }

    /// One line per diagnostic.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
