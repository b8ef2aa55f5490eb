import Yams

extension YAMLReader {
    /// A size in bytes: a whole number of bytes, or a number with a unit (`512KiB`, `64MiB`, `1GiB`; `KB`, `MB`,
    /// `GB` are powers of 1,000). Reports an error at the node and returns nil when unreadable or out of range.
    func byteSize(_ node: Node, _ what: String, minimum: Int, maximum: Int) -> Int? {
        guard let text = string(node, what) else { return nil }
        guard let value = Self.parseByteSize(text) else {
            error(node, "\(what) must be a size such as 64MiB, 512KiB or a number of bytes, got '\(text)'")
            return nil
        }
        guard value >= minimum, value <= maximum else {
            error(node, "\(what) must be between \(minimum) and \(maximum) bytes, got '\(text)'")
            return nil
        }
        return value
    }

    /// Parses `64MiB`-style sizes; nil when unreadable or beyond `Int.max`.
    static func parseByteSize(_ text: String) -> Int? {
        let trimmed = text.filter { $0 != "_" }.trimmingWhitespace()
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 18, let number = Int(digits) else { return nil }
        let units: [String: Int] = [
            "": 1, "B": 1, "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000,
            "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30,
        ]
        let unit = trimmed.dropFirst(digits.count).trimmingWhitespace().uppercased()
        guard let multiplier = units[unit] else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
