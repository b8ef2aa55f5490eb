import CEL

/// Where a YAML scalar sits in its file, and how to find a character of its value there.
///
/// Knows the scalar styles: plain and quoted single-line scalars map exactly (quotes and escapes counted);
/// literal and folded blocks map line by line; anything else maps to the scalar's start.
struct ExpressionLocation: Sendable, Hashable {
    enum Style: Sendable, Hashable {
        case plain, singleQuoted, doubleQuoted, block
    }

    var file: String
    var line: Int
    var column: Int
    var style: Style
    /// The file's lines (shared storage), to measure quotes, escapes and block indentation.
    var lines: SourceLines

    /// The file position of `position` (1-based line and column inside the value).
    func map(_ position: CELSourcePosition?) -> (line: Int, column: Int) {
        guard let position else { return (line, column) }
        switch style {
        case .block:
            // Block content starts on the line after the indicator; its first line sets the indentation.
            let target = line + position.line
            guard lines[target] != nil, let first = lines[line + 1] else { return (line, column) }
            let indent = first.prefix { $0 == " " }.count
            return (target, indent + position.column)
        case .plain:
            guard position.line == 1 else { return (line, column) }
            return (line, column + position.column - 1)
        case .singleQuoted, .doubleQuoted:
            guard position.line == 1, let raw = lines[line] else { return (line, column) }
            let scalars = Array(raw.unicodeScalars)
            var rawIndex = column  // 0-based index just after the opening quote
            var valueIndex = 0
            while valueIndex < position.column - 1 && rawIndex < scalars.count {
                let scalar = scalars[rawIndex]
                if style == .singleQuoted {
                    rawIndex += scalar == "'" ? 2 : 1
                } else if scalar == "\\" && rawIndex + 1 < scalars.count {
                    switch scalars[rawIndex + 1] {
                    case "x": rawIndex += 4
                    case "u": rawIndex += 6
                    case "U": rawIndex += 10
                    default: rawIndex += 2
                    }
                } else {
                    rawIndex += 1
                }
                valueIndex += 1
            }
            return (line, rawIndex + 1)
        }
    }
}

/// The lines of a source file, 1-based.
struct SourceLines: Sendable, Hashable {
    private let storage: [Substring]

    init(_ text: String) {
        storage = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    subscript(line: Int) -> Substring? {
        line >= 1 && line <= storage.count ? storage[line - 1] : nil
    }

    static func == (lhs: Self, rhs: Self) -> Bool { lhs.storage.count == rhs.storage.count }
    func hash(into hasher: inout Hasher) { hasher.combine(storage.count) }
}
