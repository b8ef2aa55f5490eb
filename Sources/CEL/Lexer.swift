// Splits CEL source text into tokens, each with its UTF-8 offset.

struct Lexer {
    private let bytes: [UInt8]
    private var index = 0
    let source: String

    init(source: String) {
        self.source = source
        bytes = Array(source.utf8)
    }

    static let reserved: Set<String> = [
        "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop", "package",
        "namespace", "return", "var", "void", "while",
    ]

    mutating func tokenize() throws(CELError) -> [Token] {
        var tokens: [Token] = []
        while true {
            let token = try next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private func error(_ message: String, at offset: Int) -> CELError {
        let position = SourceMap.position(of: offset, in: source)
        return CELError(
            code: .parse,
            message: "\(message)\n\(SourceMap.excerpt(of: position, in: source))",
            position: position
        )
    }

    private func peek(_ ahead: Int = 0) -> UInt8 {
        index + ahead < bytes.count ? bytes[index + ahead] : 0
    }

    private mutating func skipTrivia() {
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C {
                index += 1
            } else if byte == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "/") {
                while index < bytes.count && bytes[index] != 0x0A { index += 1 }
            } else {
                return
            }
        }
    }

    private static func isIdentStart(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == 0x5F
    }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    private static func isHex(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
    }

    private mutating func next() throws(CELError) -> Token {
        skipTrivia()
        let start = index
        guard index < bytes.count else { return Token(kind: .end, offset: index) }
        let byte = bytes[index]
        // String and bytes literals with optional r/b prefixes.
        if byte == 0x22 || byte == 0x27 {
            return try stringLiteral(raw: false, isBytes: false, start: start)
        }
        if Self.isIdentStart(byte) {
            let lower = byte | 0x20
            if lower == UInt8(ascii: "r") || lower == UInt8(ascii: "b") {
                var prefixLength = 1
                var raw = lower == UInt8(ascii: "r")
                var isBytes = lower == UInt8(ascii: "b")
                let second = peek(1) | 0x20
                if (second == UInt8(ascii: "r") && !raw) || (second == UInt8(ascii: "b") && !isBytes) {
                    if peek(2) == 0x22 || peek(2) == 0x27 {
                        prefixLength = 2
                        raw = true
                        isBytes = true
                    }
                }
                if peek(prefixLength) == 0x22 || peek(prefixLength) == 0x27 {
                    index += prefixLength
                    return try stringLiteral(raw: raw, isBytes: isBytes, start: start)
                }
            }
            while index < bytes.count && (Self.isIdentStart(bytes[index]) || Self.isDigit(bytes[index])) {
                index += 1
            }
            let name = String(decoding: bytes[start..<index], as: UTF8.self)
            return Token(kind: .identifier(name), offset: start)
        }
        if Self.isDigit(byte) || (byte == UInt8(ascii: ".") && Self.isDigit(peek(1))) {
            return try number(start: start)
        }
        if byte == UInt8(ascii: "`") {
            index += 1
            let nameStart = index
            while index < bytes.count && bytes[index] != UInt8(ascii: "`") {
                let c = bytes[index]
                let allowed =
                    Self.isIdentStart(c) || Self.isDigit(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "-")
                    || c == UInt8(ascii: "/") || c == UInt8(ascii: " ")
                guard allowed else { throw error("invalid character in quoted identifier", at: index) }
                index += 1
            }
            guard index < bytes.count, index > nameStart else {
                throw error("unterminated or empty quoted identifier; close it with a backtick", at: start)
            }
            let name = String(decoding: bytes[nameStart..<index], as: UTF8.self)
            index += 1
            return Token(kind: .quotedIdentifier(name), offset: start)
        }
        let two: String? =
            index + 1 < bytes.count ? String(decoding: bytes[index...index + 1], as: UTF8.self) : nil
        if let two, ["==", "!=", "<=", ">=", "&&", "||"].contains(two) {
            index += 2
            return Token(kind: .punctuation(two), offset: start)
        }
        let singles = "()[]{}.,:?+-*/%!<>"
        if byte < 0x80, singles.utf8.contains(byte) {
            index += 1
            return Token(kind: .punctuation(String(UnicodeScalar(byte))), offset: start)
        }
        if byte == UInt8(ascii: "=") {
            throw error("unexpected '='; use '==' to compare", at: start)
        }
        if byte == UInt8(ascii: "&") || byte == UInt8(ascii: "|") {
            throw error("unexpected '\(UnicodeScalar(byte))'; logical operators are '&&' and '||'", at: start)
        }
        throw error("unexpected character \(describeCharacter(at: start))", at: start)
    }

    private func describeCharacter(at offset: Int) -> String {
        let rest = String(decoding: bytes[offset..<min(bytes.count, offset + 4)], as: UTF8.self)
        if let first = rest.first, first != "\u{FFFD}" { return "'\(first)'" }
        return "byte 0x" + String(bytes[offset], radix: 16, uppercase: true)
    }

    // MARK: - Numbers

    private mutating func number(start: Int) throws(CELError) -> Token {
        if bytes[index] == UInt8(ascii: "0") && (peek(1) | 0x20) == UInt8(ascii: "x") {
            index += 2
            let digitsStart = index
            while index < bytes.count && Self.isHex(bytes[index]) { index += 1 }
            guard index > digitsStart else { throw error("hexadecimal literal needs digits after '0x'", at: start) }
            let text = String(decoding: bytes[digitsStart..<index], as: UTF8.self)
            return try integerSuffix(text: text, radix: 16, start: start)
        }
        var isDouble = false
        while index < bytes.count && Self.isDigit(bytes[index]) { index += 1 }
        if peek() == UInt8(ascii: ".") && Self.isDigit(peek(1)) {
            isDouble = true
            index += 1
            while index < bytes.count && Self.isDigit(bytes[index]) { index += 1 }
        }
        if (peek() | 0x20) == UInt8(ascii: "e") {
            var ahead = 1
            if peek(1) == UInt8(ascii: "+") || peek(1) == UInt8(ascii: "-") { ahead = 2 }
            if Self.isDigit(peek(ahead)) {
                isDouble = true
                index += ahead
                while index < bytes.count && Self.isDigit(bytes[index]) { index += 1 }
            }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isDouble {
            guard let value = Double(text) else { throw error("invalid floating-point literal '\(text)'", at: start) }
            return Token(kind: .double(value), offset: start)
        }
        return try integerSuffix(text: text, radix: 10, start: start)
    }

    private mutating func integerSuffix(text: String, radix: Int, start: Int) throws(CELError) -> Token {
        if (peek() | 0x20) == UInt8(ascii: "u") {
            index += 1
            guard let value = UInt64(text, radix: radix) else {
                throw error("unsigned integer literal out of range (maximum 18446744073709551615u)", at: start)
            }
            return Token(kind: .uint(value), offset: start)
        }
        if let value = Int64(text, radix: radix) { return Token(kind: .int(value), offset: start) }
        if UInt64(text, radix: radix) == UInt64(Int64.max) + 1 { return Token(kind: .intMinOverflow, offset: start) }
        throw error("integer literal out of range (int is 64-bit signed)", at: start)
    }

    // MARK: - Strings

    private mutating func stringLiteral(raw: Bool, isBytes: Bool, start: Int) throws(CELError) -> Token {
        let quote = bytes[index]
        let triple = peek(1) == quote && peek(2) == quote
        index += triple ? 3 : 1
        var output: [UInt8] = []
        while true {
            guard index < bytes.count else { throw error("unterminated string literal", at: start) }
            let byte = bytes[index]
            if byte == quote {
                if !triple {
                    index += 1
                    break
                }
                if peek(1) == quote && peek(2) == quote {
                    index += 3
                    break
                }
            }
            if !triple && (byte == 0x0A || byte == 0x0D) {
                throw error("newline in string literal; use a triple-quoted string or '\\n'", at: index)
            }
            if byte == UInt8(ascii: "\\") {
                if raw {
                    // In raw strings a backslash is an ordinary character and escapes nothing.
                    output.append(byte)
                    index += 1
                    continue
                }
                try escape(into: &output, isBytes: isBytes)
                continue
            }
            output.append(byte)
            index += 1
        }
        if isBytes { return Token(kind: .bytes(output), offset: start) }
        guard let string = String(validating: output, as: UTF8.self) else {
            throw error("string literal is not valid UTF-8", at: start)
        }
        return Token(kind: .string(string), offset: start)
    }

    private mutating func escape(into output: inout [UInt8], isBytes: Bool) throws(CELError) {
        let escapeStart = index
        index += 1
        guard index < bytes.count else { throw error("unterminated escape sequence", at: escapeStart) }
        let c = bytes[index]
        index += 1
        let simple: [UInt8: UInt8] = [
            UInt8(ascii: "a"): 7, UInt8(ascii: "b"): 8, UInt8(ascii: "f"): 12, UInt8(ascii: "n"): 10,
            UInt8(ascii: "r"): 13, UInt8(ascii: "t"): 9, UInt8(ascii: "v"): 11, UInt8(ascii: "\\"): 0x5C,
            UInt8(ascii: "?"): 0x3F, UInt8(ascii: "\""): 0x22, UInt8(ascii: "'"): 0x27, UInt8(ascii: "`"): 0x60,
        ]
        if let value = simple[c] {
            output.append(value)
            return
        }
        func hexDigits(_ count: Int) throws(CELError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<count {
                guard index < bytes.count, Self.isHex(bytes[index]) else {
                    throw error("invalid escape sequence: expected \(count) hex digits", at: escapeStart)
                }
                value = value * 16 + UInt32(hexValue(bytes[index]))
                index += 1
            }
            return value
        }
        var scalarValue: UInt32
        var isByteValue = false
        switch c {
        case UInt8(ascii: "x"), UInt8(ascii: "X"):
            scalarValue = try hexDigits(2)
            isByteValue = true
        case UInt8(ascii: "u"):
            guard !isBytes else { throw error("\\u escapes are not allowed in bytes literals", at: escapeStart) }
            scalarValue = try hexDigits(4)
        case UInt8(ascii: "U"):
            guard !isBytes else { throw error("\\U escapes are not allowed in bytes literals", at: escapeStart) }
            scalarValue = try hexDigits(8)
        case UInt8(ascii: "0")...UInt8(ascii: "3"):
            var value = UInt32(c - 0x30)
            for _ in 0..<2 {
                guard index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x37 else {
                    throw error("invalid octal escape: expected three octal digits", at: escapeStart)
                }
                value = value * 8 + UInt32(bytes[index] - 0x30)
                index += 1
            }
            scalarValue = value
            isByteValue = true
        default:
            throw error("invalid escape sequence '\\\(UnicodeScalar(c))'", at: escapeStart)
        }
        if isBytes && isByteValue {
            output.append(UInt8(scalarValue))
            return
        }
        guard let scalar = UnicodeScalar(scalarValue) else {
            throw error("invalid Unicode code point in escape sequence", at: escapeStart)
        }
        output.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    private func hexValue(_ byte: UInt8) -> UInt8 {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        default: byte - 0x41 + 10
        }
    }
}
