// Line/column positions and caret excerpts for error messages.

/// Turns UTF-8 offsets into line/column positions and caret excerpts.
enum SourceMap {
    static func position(of offset: Int, in source: String) -> CELSourcePosition {
        var line = 1
        var column = 1
        var consumed = 0
        for scalar in source.unicodeScalars {
            if consumed >= offset { break }
            consumed += String(scalar).utf8.count
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return CELSourcePosition(line: line, column: column, offset: offset)
    }

    /// The source line of `position` followed by a caret under its column.
    static func excerpt(of position: CELSourcePosition, in source: String) -> String {
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        guard position.line - 1 < lines.count else { return "" }
        let line = lines[position.line - 1]
        return " | \(line)\n | \(String(repeating: ".", count: max(0, position.column - 1)))^"
    }
}
