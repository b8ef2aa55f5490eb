/// Writes compact JSON into a string; used for every response so the hot path does not go
/// through `Codable`.
struct JSONWriter {
    private(set) var output: String
    private var needsComma: [Bool] = []

    init(capacity: Int = 256) {
        self.output = ""
        self.output.reserveCapacity(capacity)
    }

    // MARK: - Containers

    mutating func beginObject() {
        self.separate()
        self.output.append("{")
        self.needsComma.append(false)
    }

    mutating func endObject() {
        self.needsComma.removeLast()
        self.output.append("}")
    }

    mutating func beginArray() {
        self.separate()
        self.output.append("[")
        self.needsComma.append(false)
    }

    mutating func endArray() {
        self.needsComma.removeLast()
        self.output.append("]")
    }

    mutating func object(_ body: (inout JSONWriter) -> Void) {
        self.beginObject()
        body(&self)
        self.endObject()
    }

    mutating func key(_ key: String) {
        self.separate()
        Self.appendQuoted(key, to: &self.output)
        self.output.append(":")
        // The value that follows must not be preceded by a comma.
        if !self.needsComma.isEmpty { self.needsComma[self.needsComma.count - 1] = false }
    }

    // MARK: - Values

    mutating func string(_ value: String) {
        self.separate()
        Self.appendQuoted(value, to: &self.output)
    }

    mutating func string(_ value: String?) {
        if let value { self.string(value) } else { self.null() }
    }

    mutating func number(_ value: Double) {
        self.separate()
        self.output.append(Self.format(value))
    }

    /// An amount of money as an exact decimal number (``Money/text(_:currency:)``): `12.34`, never `12.339999`.
    mutating func money(_ minorUnits: Int64, currency: String) {
        self.separate()
        self.output.append(Money.text(minorUnits, currency: currency))
    }

    mutating func integer(_ value: Int) {
        self.separate()
        self.output.append(String(value))
    }

    mutating func bool(_ value: Bool) {
        self.separate()
        self.output.append(value ? "true" : "false")
    }

    mutating func null() {
        self.separate()
        self.output.append("null")
    }

    mutating func value(_ value: JSONValue) {
        switch value {
        case .null: self.null()
        case .bool(let bool): self.bool(bool)
        case .number(let number): self.number(number)
        case .string(let string): self.string(string)
        case .array(let array):
            self.beginArray()
            for element in array { self.value(element) }
            self.endArray()
        case .object(let object):
            self.beginObject()
            for key in object.keys.sorted() {
                self.key(key)
                self.value(object[key]!)
            }
            self.endObject()
        }
    }

    // MARK: - Keyed shorthands

    mutating func field(_ key: String, _ value: String?) {
        self.key(key)
        self.string(value)
    }

    mutating func field(_ key: String, _ value: Int) {
        self.key(key)
        self.integer(value)
    }

    mutating func field(_ key: String, _ value: Double) {
        self.key(key)
        self.number(value)
    }

    mutating func field(_ key: String, money minorUnits: Int64, currency: String) {
        self.key(key)
        self.money(minorUnits, currency: currency)
    }

    mutating func field(_ key: String, _ value: Bool) {
        self.key(key)
        self.bool(value)
    }

    // MARK: - Encoding

    /// Integral values print without a fraction (99 rather than 99.0).
    static func format(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    private mutating func separate() {
        guard !self.needsComma.isEmpty else { return }
        if self.needsComma[self.needsComma.count - 1] { self.output.append(",") }
        self.needsComma[self.needsComma.count - 1] = true
    }

    private static func appendQuoted(_ value: String, to output: inout String) {
        output.append("\"")
        var needsEscaping = false
        for byte in value.utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            needsEscaping = true
            break
        }
        if !needsEscaping {
            output.append(value)
        } else {
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": output.append("\\\"")
                case "\\": output.append("\\\\")
                case "\n": output.append("\\n")
                case "\r": output.append("\\r")
                case "\t": output.append("\\t")
                default:
                    if scalar.value < 0x20 {
                        let hex = String(scalar.value, radix: 16)
                        output.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                    } else {
                        output.unicodeScalars.append(scalar)
                    }
                }
            }
        }
        output.append("\"")
    }
}
