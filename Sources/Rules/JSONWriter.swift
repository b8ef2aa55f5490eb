import CEL

/// Writes `CELValue`s as canonical JSON: object members sorted by key, no insignificant whitespace.
///
/// Timestamps become RFC 3339 strings, durations seconds strings (`"1.5s"`), bytes base64 strings,
/// optionals their value (or `null`). Non-string map keys are written as their string form.
struct JSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    static func encode(_ value: CELValue) -> [UInt8] {
        var writer = JSONWriter()
        writer.write(value)
        return writer.bytes
    }

    static func string(_ value: CELValue) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    mutating func write(_ value: CELValue) {
        switch value {
        case .null: append("null")
        case .bool(let bool): append(bool ? "true" : "false")
        case .int(let int): append(String(int))
        case .uint(let uint): append(String(uint))
        case .double(let double): writeDouble(double)
        case .string(let string): writeString(string)
        case .bytes(let data): writeString(Base64.encode(data))
        case .list(let list):
            bytes.append(UInt8(ascii: "["))
            for (position, element) in list.enumerated() {
                if position > 0 { bytes.append(UInt8(ascii: ",")) }
                write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .map(let map):
            writeObject(map.entries.map { (Self.keyString($0.key), $0.value) })
        case .timestamp(let timestamp): writeString(RFC3339.format(timestamp))
        case .duration(let duration): writeString(RFC3339.format(duration))
        case .type(let type): writeString(type.name)
        case .optional(let wrapped):
            if let wrapped { write(wrapped) } else { append("null") }
        }
    }

    /// Writes an object whose members are sorted by key (byte order of UTF-8).
    mutating func writeObject(_ members: [(String, CELValue)]) {
        writeSortedObject(members.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) })
    }

    /// A refund's fields sorted by key, in the byte order of UTF-8 (what `<` gives for the ASCII names of Affonso's
    /// fields), by insertion: a refund has a handful of fields, mostly in a rule's written order.
    static func sortedFields(_ fields: [(String, CELValue)]) -> [(String, CELValue)] {
        var fields = fields
        for index in fields.indices.dropFirst() {
            var position = index
            while position > 0, fields[position].0 < fields[position - 1].0 {
                fields.swapAt(position, position - 1)
                position -= 1
            }
        }
        return fields
    }

    /// Writes an event's body from its fields sorted by key, each key already encoded.
    mutating func writeEvent(_ sorted: [(EventField, CELValue)]) {
        bytes.append(UInt8(ascii: "{"))
        for (position, (field, value)) in sorted.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: field.encodedKey)
            write(value)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Writes an object whose members are already sorted.
    mutating func writeSortedObject(_ sorted: [(String, CELValue)]) {
        bytes.append(UInt8(ascii: "{"))
        for (position, member) in sorted.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            writeString(member.0)
            bytes.append(UInt8(ascii: ":"))
            write(member.1)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    static func keyString(_ key: CELValue) -> String {
        switch key {
        case .string(let string): string
        case .int(let int): String(int)
        case .uint(let uint): String(uint)
        case .bool(let bool): bool ? "true" : "false"
        default: JSONWriter.string(key)
        }
    }

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func writeDouble(_ double: Double) {
        guard double.isFinite else {
            // JSON has no NaN or infinities; validation rejects them in events, this keeps output parseable.
            writeString(double.isNaN ? "NaN" : (double < 0 ? "-Infinity" : "Infinity"))
            return
        }
        append(double.description)
    }

    mutating func writeString(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        // Runs without anything to escape are appended whole, not byte by byte; they are found eight bytes at a time
        // (a word of printable ASCII other than `"` and `\` has nothing to escape).
        string.withUTF8 { utf8 in
            var start = 0
            var index = 0
            while index < utf8.count {
                if index + 8 <= utf8.count, let base = utf8.baseAddress {
                    let word = UnsafeRawPointer(base).loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    let flagged = JSONParser.nonPlainBytes(word)
                    if flagged == 0 {
                        index += 8
                        continue
                    }
                    // The lowest flagged byte is the first one to look at; the bytes before it are plain.
                    index += UInt64(littleEndian: flagged).trailingZeroBitCount / 8
                }
                let byte = utf8[index]
                if byte < 0x20 || byte == 0x22 || byte == 0x5C {
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                    writeEscape(byte)
                    start = index + 1
                }
                index += 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func writeEscape(_ byte: UInt8) {
        bytes.append(0x5C)
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        default:
            // \u00XX, built without allocating (a value of control characters escapes every byte).
            bytes.append(UInt8(ascii: "u"))
            bytes.append(0x30)
            bytes.append(0x30)
            bytes.append(Self.hexDigit(byte >> 4))
            bytes.append(Self.hexDigit(byte & 0xF))
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
