import Logging

// MARK: - TextLogHandler

/// `logging.format: text`, for people reading a terminal: one line per event,
/// `2026-05-04T09:12:03.250Z warning event dead-lettered to billing.dlq class=decode offset=7 partition=0 …`.
///
/// The time stamp, the level, the message, then the metadata as `key=value` sorted by key. A value with spaces,
/// quotes, `=` or nothing in it is quoted; line breaks are written as `\n`, so one event is always one line.
/// Secrets are removed by the ``LogOutput``.
public struct TextLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let output: LogOutput

    /// - Parameters:
    ///   - level: the lowest level written.
    ///   - output: where lines go (default: standard error).
    ///   - metadataProvider: metadata added to every line.
    public init(
        level: Logger.Level,
        output: LogOutput = .standardError(),
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.logLevel = level
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = output.timestamp() + " " + event.level.rawValue + " " + Self.oneLine("\(event.message)")
        for (key, value) in LogOutput.merged(metadata, metadataProvider, event.metadata) {
            line += " " + Self.oneLine(key) + "=" + Self.value(value)
        }
        output.emit(line)
    }

    /// A metadata value: bare when it is one plain word, else quoted with `"` and `\` escaped.
    static func value(_ value: Logger.MetadataValue) -> String {
        let text = plain(value)
        let isPlain =
            !text.isEmpty
            && !text.unicodeScalars.contains { scalar in
                scalar == " " || scalar == "\"" || scalar == "=" || scalar == "\\" || scalar.value < 0x20
            }
        guard !isPlain else { return text }
        return "\"" + oneLine(text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")) + "\""
    }

    /// Arrays as `[a, b]` and dictionaries as `[k: v]` (sorted), without Swift's string quotes.
    private static func plain(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): "[" + values.map(plain).joined(separator: ", ") + "]"
        case .dictionary(let entries):
            "[" + entries.sorted { $0.key < $1.key }.map { "\($0.key): \(plain($0.value))" }.joined(separator: ", ")
                + "]"
        }
    }

    /// `text` with line breaks and tabs written as `\n`, `\r` and `\t`.
    static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20: result += "?"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
