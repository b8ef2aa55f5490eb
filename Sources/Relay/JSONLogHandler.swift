import Logging

// MARK: - JSONLogHandler

/// `logging.format: json`: one JSON object per line, keys in a stable order — `ts`, `level`, `msg`, then the
/// metadata keys sorted (`class`, `external_event_id`, `offset`, `partition`, `rule`, `topic`, …), then `logger`.
///
/// Metadata values are JSON strings; arrays and dictionaries become JSON arrays and objects. A metadata key that
/// clashes with a fixed key (`ts`, `level`, `msg`, `logger`) is written as `meta.<key>`. Secrets are removed by
/// the ``LogOutput``.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: LogOutput

    /// - Parameters:
    ///   - label: the logger's label, written as `logger`.
    ///   - level: the lowest level written.
    ///   - output: where lines go (default: standard error).
    ///   - metadataProvider: metadata added to every line.
    public init(
        label: String,
        level: Logger.Level,
        output: LogOutput = .standardError(),
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.logLevel = level
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "{\"ts\":\(Self.quoted(output.timestamp()))"
        line += ",\"level\":\(Self.quoted(event.level.rawValue)),\"msg\":\(Self.quoted("\(event.message)"))"
        for (key, value) in LogOutput.merged(metadata, metadataProvider, event.metadata) {
            let name = Self.fixedKeys.contains(key) ? "meta." + key : key
            line += ",\(Self.quoted(name)):"
            Self.append(value, to: &line)
        }
        line += ",\"logger\":\(Self.quoted(label))}"
        output.emit(line)
    }

    private static let fixedKeys: Set<String> = ["ts", "level", "msg", "logger"]

    private static func append(_ value: Logger.MetadataValue, to line: inout String) {
        switch value {
        case .string(let text):
            line += quoted(text)
        case .stringConvertible(let convertible):
            line += quoted(convertible.description)
        case .array(let values):
            line += "["
            for (index, element) in values.enumerated() {
                if index > 0 { line += "," }
                append(element, to: &line)
            }
            line += "]"
        case .dictionary(let entries):
            line += "{"
            for (index, entry) in entries.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { line += "," }
                line += quoted(entry.key) + ":"
                append(entry.value, to: &line)
            }
            line += "}"
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    public static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
