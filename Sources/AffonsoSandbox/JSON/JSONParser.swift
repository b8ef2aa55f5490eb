/// A small, strict JSON parser (RFC 8259) over raw bytes.
struct JSONParser {
    /// Why a document is not valid JSON, with the byte offset where parsing stopped.
    struct Failure: Error, Equatable {
        var message: String
        var offset: Int

        var description: String { "\(self.message) at byte \(self.offset)" }
    }

    private let bytes: UnsafeRawBufferPointer
    private var index = 0
    private var depth = 0
    private static let maximumDepth = 64

    private init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Parses one complete JSON document.
    /// - Throws: `Failure` when the bytes are not one valid JSON value.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.index == bytes.count else {
            throw Failure(message: "unexpected data after the JSON value", offset: parser.index)
        }
        return value
    }

    static func parse(_ text: String) throws(Failure) -> JSONValue {
        let bytes = Array(text.utf8)
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(Failure) -> JSONValue in try parse(buffer) } }
        return try result.get()
    }

    // MARK: - Values

    private mutating func parseValue() throws(Failure) -> JSONValue {
        guard self.index < self.bytes.count else { throw self.failure("unexpected end of input") }
        switch self.bytes[self.index] {
        case UInt8(ascii: "{"): return try self.parseObject()
        case UInt8(ascii: "["): return try self.parseArray()
        case UInt8(ascii: "\""): return .string(try self.parseString())
        case UInt8(ascii: "t"): return try self.parseLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try self.parseLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try self.parseLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try self.parseNumber())
        default: throw self.failure("unexpected character '\(Character(Unicode.Scalar(self.bytes[self.index])))'")
        }
    }

    private mutating func parseObject() throws(Failure) -> JSONValue {
        try self.enter()
        self.index += 1
        var object: [String: JSONValue] = [:]
        self.skipWhitespace()
        if self.peek(UInt8(ascii: "}")) {
            self.index += 1
            self.depth -= 1
            return .object(object)
        }
        while true {
            self.skipWhitespace()
            guard self.peek(UInt8(ascii: "\"")) else { throw self.failure("expected a string key") }
            let key = try self.parseString()
            self.skipWhitespace()
            guard self.peek(UInt8(ascii: ":")) else { throw self.failure("expected ':' after key \"\(key)\"") }
            self.index += 1
            self.skipWhitespace()
            object[key] = try self.parseValue()
            self.skipWhitespace()
            if self.peek(UInt8(ascii: ",")) {
                self.index += 1
                continue
            }
            guard self.peek(UInt8(ascii: "}")) else { throw self.failure("expected ',' or '}' in object") }
            self.index += 1
            self.depth -= 1
            return .object(object)
        }
    }

    private mutating func parseArray() throws(Failure) -> JSONValue {
        try self.enter()
        self.index += 1
        var array: [JSONValue] = []
        self.skipWhitespace()
        if self.peek(UInt8(ascii: "]")) {
            self.index += 1
            self.depth -= 1
            return .array(array)
        }
        while true {
            self.skipWhitespace()
            array.append(try self.parseValue())
            self.skipWhitespace()
            if self.peek(UInt8(ascii: ",")) {
                self.index += 1
                continue
            }
            guard self.peek(UInt8(ascii: "]")) else { throw self.failure("expected ',' or ']' in array") }
            self.index += 1
            self.depth -= 1
            return .array(array)
        }
    }

    private mutating func parseLiteral(_ literal: StaticString, _ value: JSONValue) throws(Failure) -> JSONValue {
        let count = literal.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { throw self.failure("invalid literal") }
        let start = literal.utf8Start
        for offset in 0..<count where self.bytes[self.index + offset] != start[offset] {
            throw self.failure("invalid literal")
        }
        self.index += count
        return value
    }

    private mutating func parseNumber() throws(Failure) -> Double {
        let start = self.index
        if self.peek(UInt8(ascii: "-")) { self.index += 1 }
        guard self.index < self.bytes.count, self.isDigit(self.bytes[self.index]) else {
            throw self.failure("invalid number")
        }
        if self.bytes[self.index] == UInt8(ascii: "0") {
            self.index += 1
        } else {
            self.skipDigits()
        }
        if self.peek(UInt8(ascii: ".")) {
            self.index += 1
            guard self.index < self.bytes.count, self.isDigit(self.bytes[self.index]) else {
                throw self.failure("invalid number: expected a digit after '.'")
            }
            self.skipDigits()
        }
        if self.peek(UInt8(ascii: "e")) || self.peek(UInt8(ascii: "E")) {
            self.index += 1
            if self.peek(UInt8(ascii: "+")) || self.peek(UInt8(ascii: "-")) { self.index += 1 }
            guard self.index < self.bytes.count, self.isDigit(self.bytes[self.index]) else {
                throw self.failure("invalid number: expected a digit in the exponent")
            }
            self.skipDigits()
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw Failure(message: "number out of range", offset: start)
        }
        return value
    }

    private mutating func parseString() throws(Failure) -> String {
        self.index += 1
        let start = self.index
        // Fast path: no escapes.
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.index])
                self.index += 1
                return String(decoding: slice, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw self.failure("control character in string") }
            self.index += 1
        }
        var scalars = Array(UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.index]))
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            switch byte {
            case UInt8(ascii: "\""):
                self.index += 1
                return String(decoding: scalars, as: UTF8.self)
            case UInt8(ascii: "\\"):
                self.index += 1
                guard self.index < self.bytes.count else { break }
                let escaped = self.bytes[self.index]
                self.index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escaped)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    let scalar = try self.parseUnicodeEscape()
                    scalars.append(contentsOf: String(Character(scalar)).utf8)
                default: throw self.failure("invalid escape sequence")
                }
            default:
                if byte < 0x20 { throw self.failure("control character in string") }
                scalars.append(byte)
                self.index += 1
            }
        }
        throw self.failure("unterminated string")
    }

    private mutating func parseUnicodeEscape() throws(Failure) -> Unicode.Scalar {
        let high = try self.parseHex4()
        if (0xD800...0xDBFF).contains(high) {
            guard self.peek(UInt8(ascii: "\\")), self.index + 1 < self.bytes.count,
                self.bytes[self.index + 1] == UInt8(ascii: "u")
            else { throw self.failure("unpaired surrogate in \\u escape") }
            self.index += 2
            let low = try self.parseHex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw self.failure("invalid low surrogate") }
            let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            guard let scalar = Unicode.Scalar(value) else { throw self.failure("invalid \\u escape") }
            return scalar
        }
        guard let scalar = Unicode.Scalar(high) else { throw self.failure("unpaired surrogate in \\u escape") }
        return scalar
    }

    private mutating func parseHex4() throws(Failure) -> UInt32 {
        guard self.index + 4 <= self.bytes.count else { throw self.failure("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw self.failure("invalid hex digit in \\u escape")
            }
            value = value << 4 | UInt32(digit)
            self.index += 1
        }
        return value
    }

    // MARK: - Helpers

    private mutating func enter() throws(Failure) {
        self.depth += 1
        guard self.depth <= Self.maximumDepth else {
            throw self.failure("nesting deeper than \(Self.maximumDepth) levels")
        }
    }

    private func peek(_ byte: UInt8) -> Bool {
        self.index < self.bytes.count && self.bytes[self.index] == byte
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func skipDigits() {
        while self.index < self.bytes.count, self.isDigit(self.bytes[self.index]) { self.index += 1 }
    }

    private mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
            default: return
            }
        }
    }

    private func failure(_ message: String) -> Failure {
        Failure(message: message, offset: self.index)
    }
}
