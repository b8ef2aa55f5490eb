// Line/column positions and caret excerpts for error messages.

/// Turns UTF-8 offsets into line/column positions (in O(1) after an O(n) table build) and caret excerpts.
struct SourceMap: Sendable {
    private let source: String
    /// For each UTF-8 offset (and one past the end): 1-based line and column in Unicode scalars.
    private let lines: [Int32]
    private let columns: [Int32]

    init(_ source: String) {
        self.source = source
        var lines: [Int32] = []
        var columns: [Int32] = []
        lines.reserveCapacity(source.utf8.count + 1)
        columns.reserveCapacity(source.utf8.count + 1)
        var line: Int32 = 1
        var column: Int32 = 1
        for scalar in source.unicodeScalars {
            for _ in 0..<UTF8.width(scalar) {
                lines.append(line)
                columns.append(column)
            }
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        lines.append(line)
        columns.append(column)
        self.lines = lines
        self.columns = columns
    }

    func position(of offset: Int) -> CELSourcePosition {
        let index = min(max(offset, 0), lines.count - 1)
        return CELSourcePosition(line: Int(lines[index]), column: Int(columns[index]), offset: offset)
    }

    static func position(of offset: Int, in source: String) -> CELSourcePosition {
        SourceMap(source).position(of: offset)
    }

    /// The source line of `position` followed by a caret under its column.
    static func excerpt(of position: CELSourcePosition, in source: String) -> String {
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        guard position.line - 1 < lines.count else { return "" }
        var line = String(lines[position.line - 1])
        var column = position.column
        // Keep excerpts of very long lines readable: show at most 60 characters either side.
        if line.unicodeScalars.count > 120 {
            let scalars = Array(line.unicodeScalars)
            let low = max(0, column - 1 - 60)
            let high = min(scalars.count, column - 1 + 60)
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[low..<high])
            line = (low > 0 ? "…" : "") + String(view) + (high < scalars.count ? "…" : "")
            column = column - low + (low > 0 ? 1 : 0)
        }
        return " | \(line)\n | \(String(repeating: ".", count: max(0, column - 1)))^"
    }
}
