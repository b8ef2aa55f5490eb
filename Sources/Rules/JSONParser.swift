import CEL

/// A strict JSON (RFC 8259) parser that produces `CELValue`s.
///
/// Numbers without fraction or exponent that fit `Int64` become `.int`; all others `.double` (docs/rules.md).
/// Objects keep their member order; a repeated member name keeps its last value.
struct JSONParser {
    /// Why a document is not acceptable JSON, with the byte offset where it was noticed.
    struct Failure: Error, Sendable {
        var message: String
        var offset: Int
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private let maximumDepth: Int
    var index: Int = 0
    private var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    /// Parses `bytes` as one complete JSON document.
    ///
    /// - Parameter projection: the members to build (nil: all). The others are read, checked exactly as if they
    ///   were built (the same errors at the same offsets), and skipped.
    static func parse(
        _ bytes: [UInt8], maximumDepth: Int = 128, projection: Projection? = nil
    ) throws(Failure) -> CELValue {
        let result: Result<CELValue, Failure> = bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(buffer, maximumDepth: maximumDepth)
            do throws(Failure) {
                return .success(try parser.parseDocument(projection))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    mutating func parseDocument(_ projection: Projection? = nil) throws(Failure) -> CELValue {
        skipWhitespace()
        let value = try parseValue(projection)
        skipWhitespace()
        if index != bytes.count {
            throw fail("unexpected data after the JSON value")
        }
        return value
    }

    // MARK: - Values

    var isAtEnd: Bool { index >= bytes.count }

    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    func fail(_ message: String) -> Failure { Failure(message: message, offset: index) }

    mutating func expect(_ byte: UInt8, _ what: String) throws(Failure) {
        guard index < bytes.count, bytes[index] == byte else {
            throw isAtEnd ? fail("unexpected end of JSON, expected \(what)") : fail("expected \(what)")
        }
        index += 1
    }

    mutating func parseValue(_ projection: Projection? = nil) throws(Failure) -> CELValue {
        guard index < bytes.count else { throw fail("unexpected end of JSON") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(projection)
        case UInt8(ascii: "["): return try parseArray(projection)
        case UInt8(ascii: "\""):
            if projection === Projection.nothing {
                try skipString()
                return .null
            }
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try parseLiteral("true")
            return projection === Projection.nothing ? .null : .bool(true)
        case UInt8(ascii: "f"):
            try parseLiteral("false")
            return projection === Projection.nothing ? .null : .bool(false)
        case UInt8(ascii: "n"):
            try parseLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber(building: projection !== Projection.nothing)
        default:
            throw fail("unexpected character '\(Self.describe(bytes[index]))'")
        }
    }

    static func describe(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "\\u{\(String(byte, radix: 16))}"
    }

    mutating func parseLiteral(_ literal: StaticString) throws(Failure) {
        let count = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        guard index + count <= bytes.count else { throw fail("invalid literal (expected true, false or null)") }
        for offset in 0..<count where bytes[index + offset] != start[offset] {
            throw fail("invalid literal (expected true, false or null)")
        }
        index += count
    }

    mutating func enter() throws(Failure) {
        depth += 1
        if depth > maximumDepth {
            throw fail("JSON nesting deeper than \(maximumDepth) levels")
        }
    }

    mutating func parseObject(_ projection: Projection? = nil) throws(Failure) -> CELValue {
        if let projection { return try parseProjectedObject(projection) }
        try enter()
        index += 1
        var entries: [(key: CELValue, value: CELValue)] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .map(CELMap(entries))
        }
        // Small objects: a 64-bit summary of the keys seen (by length and end bytes), so only a possible repeat is
        // searched for. Past `Self.indexedMembers` members the summary is saturated and every key would scan the
        // members linearly (quadratic in the object's size), so their positions move into a hash table.
        var summary: UInt64 = 0
        var positions: [MapKey: Int]?
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else {
                throw isAtEnd ? fail("unexpected end of JSON in an object") : fail("expected a member name string")
            }
            let key = try parseString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a member name")
            skipWhitespace()
            let value = try parseValue()
            if positions != nil {
                let mapKey = MapKey.string(key)
                if let position = positions![mapKey] {
                    entries[position].value = value
                } else {
                    positions![mapKey] = entries.count
                    entries.append((.string(key), value))
                }
            } else {
                let utf8 = key.utf8
                let bit =
                    UInt64(1)
                    << ((UInt64(utf8.count) &* 7 &+ UInt64(utf8.first ?? 0) &+ UInt64(utf8.last ?? 0) &* 3) & 63)
                if summary & bit != 0,
                    let position = Self.position(of: key, in: entries)
                {
                    entries[position].value = value
                } else {
                    summary |= bit
                    entries.append((.string(key), value))
                    if entries.count > Self.indexedMembers { positions = Self.positions(of: entries) }
                }
            }
            guard try hasNext(closing: UInt8(ascii: "}")) else { break }
        }
        depth -= 1
        if let positions { return .map(CELMap(distinctEntries: entries, index: positions)) }
        return .map(CELMap(entries))
    }

    /// An object of which only `projection`'s members are built (in the order they come, a repeated one keeping
    /// its last value); the others are checked and skipped. A member kept is known by its place in the projection,
    /// so a repeat is searched for only when that place was seen before (or shares its bit, past 64 members).
    private mutating func parseProjectedObject(_ projection: Projection) throws(Failure) -> CELValue {
        try enter()
        index += 1
        var entries: [(key: CELValue, value: CELValue)] = []
        var seen: UInt64 = 0
        skipWhitespace()
        if current != UInt8(ascii: "}") {
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else {
                    throw isAtEnd ? fail("unexpected end of JSON in an object") : fail("expected a member name string")
                }
                let member = try projectedMemberName(projection)
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after a member name")
                skipWhitespace()
                if let (place, name) = member {
                    let value = try parseValue(projection.members[place].projection)
                    let bit = UInt64(1) << UInt64(place & 63)
                    if seen & bit != 0,
                        let position = Self.position(of: name, in: entries)
                    {
                        entries[position].value = value
                    } else {
                        if entries.isEmpty { entries.reserveCapacity(projection.members.count) }
                        seen |= bit
                        entries.append((.string(name), value))
                    }
                } else {
                    try skipValue()
                }
                guard try hasNext(closing: UInt8(ascii: "}")) else { break }
            }
        } else {
            index += 1
        }
        depth -= 1
        return .map(CELMap(entries))
    }

    /// After a member or an element: true at `,` (another one follows), false at `closing` (`}` or `]`: the
    /// container ends); the container's error otherwise.
    private mutating func hasNext(closing: UInt8) throws(Failure) -> Bool {
        skipWhitespace()
        if index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: ",") || byte == closing {
                index += 1
                return byte == UInt8(ascii: ",")
            }
        }
        throw containerFailure(closing: closing)
    }

    /// What ends a container too early, or a member or element followed by anything but `,` or `closing`.
    @inline(never)
    private func containerFailure(closing: UInt8) -> Failure {
        let what = closing == UInt8(ascii: "}") ? "an object" : "an array"
        if isAtEnd { return fail("unexpected end of JSON in \(what)") }
        return fail("expected ',' or '\(Character(UnicodeScalar(closing)))' in \(what)")
    }

    /// Where `entries` holds the member named `name`: a repeat's first place, which keeps the last value.
    static func position(of name: String, in entries: [(key: CELValue, value: CELValue)]) -> Int? {
        entries.firstIndex { entry in
            if case .string(let existing) = entry.key { return existing == name }
            return false
        }
    }

    /// Objects with more members than this find repeated names through a hash table instead of a scan.
    static let indexedMembers = 16

    static func positions(of entries: [(key: CELValue, value: CELValue)]) -> [MapKey: Int] {
        var positions = [MapKey: Int](minimumCapacity: entries.count * 4)
        for (position, entry) in entries.enumerated() {
            if case .string(let key) = entry.key { positions[.string(key)] = position }
        }
        return positions
    }

    mutating func parseArray(_ projection: Projection? = nil) throws(Failure) -> CELValue {
        try enter()
        index += 1
        var elements: [CELValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .list(elements)
        }
        let buildsElements = projection !== Projection.nothing
        while true {
            skipWhitespace()
            if buildsElements {
                elements.append(try parseValue(projection))
            } else {
                try skipValue()
            }
            guard try hasNext(closing: UInt8(ascii: "]")) else { break }
        }
        depth -= 1
        return .list(elements)
    }

    // MARK: - Skipping

    /// Reads and checks a value without building any of it: the same errors at the same offsets as
    /// ``parseValue(_:)`` with the ``Projection/nothing`` projection, without making the empty containers it returns.
    mutating func skipValue() throws(Failure) {
        guard index < bytes.count else { throw fail("unexpected end of JSON") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try skipContainer(closing: UInt8(ascii: "}"))
        case UInt8(ascii: "["): try skipContainer(closing: UInt8(ascii: "]"))
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try parseLiteral("true")
        case UInt8(ascii: "f"): try parseLiteral("false")
        case UInt8(ascii: "n"): try parseLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try parseNumber(building: false)
        default: throw fail("unexpected character '\(Self.describe(bytes[index]))'")
        }
    }

    /// Skips an object (`closing` `}`: members `"name": value`) or an array (`]`: values), checked as
    /// ``parseObject(_:)`` and ``parseArray(_:)`` check them.
    private mutating func skipContainer(closing: UInt8) throws(Failure) {
        let isObject = closing == UInt8(ascii: "}")
        try enter()
        index += 1
        skipWhitespace()
        if current == closing {
            index += 1
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            if isObject {
                guard current == UInt8(ascii: "\"") else {
                    throw isAtEnd ? fail("unexpected end of JSON in an object") : fail("expected a member name string")
                }
                try skipString()
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after a member name")
                skipWhitespace()
            }
            try skipValue()
            guard try hasNext(closing: closing) else { break }
        }
        depth -= 1
    }

    // MARK: - Projections

    /// The members of objects to build; the others are read and checked but not built. Lists take their elements'
    /// projection.
    final class Projection: Sendable {
        struct Member: Sendable {
            var name: [UInt8]
            /// `name` as a string: what a kept member's key is (no string built per member read).
            var key: String
            /// What to build of the member's value; nil: all of it.
            var projection: Projection?
        }

        let members: [Member]

        init(members: [Member]) {
            self.members = members
        }

        /// Builds nothing: values are checked only (objects and lists come out empty, scalars null).
        static let nothing = Projection(members: [])

        /// What to build for `selection`; nil when it reads the whole value, ``nothing`` when it reads none of it
        /// (only the presence of the value it belongs to is tested).
        static func of(_ selection: CELSelection) -> Projection? {
            if selection.isWhole { return nil }
            if selection.members.isEmpty { return nothing }
            return Projection(
                members: selection.members.map { name, member in
                    Member(name: Array(name.utf8), key: name, projection: of(member))
                })
        }

        /// The place among ``members`` of the member named `name`.
        func place(of name: UnsafeBufferPointer<UInt8>) -> Int? {
            for place in members.indices where members[place].name.count == name.count {
                let equal = members[place].name.withUnsafeBufferPointer { known in
                    var offset = 0
                    while offset < name.count, known[offset] == name[offset] { offset += 1 }
                    return offset == name.count
                }
                if equal { return place }
            }
            return nil
        }
    }

    /// Reads a member name: its place among `projection`'s members, and the name; nil when `projection` does not
    /// keep the member.
    mutating func projectedMemberName(_ projection: Projection) throws(Failure) -> (place: Int, name: String)? {
        let start = index + 1
        let end = plainRunEnd(from: start)
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            // A plain ASCII name, compared before it is built.
            let name = UnsafeBufferPointer(rebasing: bytes[start..<end])
            index = end + 1
            guard let place = projection.place(of: name) else { return nil }
            return (place, projection.members[place].key)
        }
        let name = try parseString()
        guard let place = projection.members.firstIndex(where: { $0.name.elementsEqual(name.utf8) }) else {
            return nil
        }
        return (place, name)
    }

    /// Reads a string without building it: plain ASCII is scanned, anything else goes through ``parseString()``.
    mutating func skipString() throws(Failure) {
        let end = plainRunEnd(from: index + 1)
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            index = end + 1
            return
        }
        _ = try parseString()
    }

    /// Where the run of plain string bytes (printable ASCII other than `"` and `\`) that begins at `start` ends:
    /// the index of the first other byte, or the end of the input. Reads eight bytes at a time.
    func plainRunEnd(from start: Int) -> Int {
        var index = start
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            while index + 8 <= bytes.count {
                let nonPlain = Self.nonPlainBytes(raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                // The lowest flagged byte is the first byte that is not plain (the first byte in memory is the low
                // byte of the word).
                if nonPlain != 0 { return index + (UInt64(littleEndian: nonPlain)).trailingZeroBitCount / 8 }
                index += 8
            }
        }
        while index < bytes.count, Self.isPlain(bytes[index]) { index += 1 }
        return index
    }

    static func isPlain(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte < 0x80 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
    }

    /// The high bit of each byte of `word` that is not plain (see ``isPlain(_:)``) is set, and maybe of bytes above
    /// the lowest of them, never below it; 0 when all eight are plain. `(x - 0x01…) & ~x & 0x80…` flags the zero
    /// bytes of x (a borrow runs upwards only, so the lowest flag is a true zero), and with 0x20… the bytes below
    /// 0x20; a byte equal to c is a zero byte of `word ^ c…`.
    static func nonPlainBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let found =
            ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- ones &* 0x20) & ~word) | word
        return found & highBits
    }

    // MARK: - Strings

    mutating func parseString() throws(Failure) -> String {
        index += 1
        let start = index
        index = plainRunEnd(from: start)
        var isASCII = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                if isASCII { return String(decoding: slice, as: UTF8.self) }
                guard let string = String(validating: slice, as: UTF8.self) else {
                    index = start
                    throw fail("invalid UTF-8 in a string")
                }
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("unescaped control character in a string") }
            if byte >= 0x80 { isASCII = false }
            index += 1
        }
        if index >= bytes.count { throw fail("unterminated string") }
        // Slow path: escapes present.
        var buffer = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let string = String(validating: buffer, as: UTF8.self) else {
                    throw fail("invalid UTF-8 in a string")
                }
                return string
            case UInt8(ascii: "\\"):
                index += 1
                guard let escape = current else { throw fail("unterminated string") }
                index += 1
                switch escape {
                case UInt8(ascii: "\""): buffer.append(0x22)
                case UInt8(ascii: "\\"): buffer.append(0x5C)
                case UInt8(ascii: "/"): buffer.append(0x2F)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw fail("unpaired UTF-16 surrogate in a string") }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00..<0xE000).contains(low) else {
                            throw fail("unpaired UTF-16 surrogate in a string")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw fail("unpaired UTF-16 surrogate in a string")
                    }
                    buffer.append(contentsOf: Array(String(Character(UnicodeScalar(scalar)!)).utf8))
                default:
                    index -= 1
                    throw fail("invalid escape '\\\(Self.describe(escape))' in a string")
                }
            default:
                if byte < 0x20 { throw fail("unescaped control character in a string") }
                buffer.append(byte)
                index += 1
            }
        }
        throw fail("unterminated string")
    }

    mutating func parseHex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("invalid \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    // MARK: - Numbers

    /// - Parameter building: false to check the number only (the value returned is then `.null`).
    mutating func parseNumber(building: Bool = true) throws(Failure) -> CELValue {
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard let first = current, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else {
            throw fail("invalid number")
        }
        // Accumulate as a negative magnitude so Int64.min fits.
        var magnitude: Int64 = 0
        var overflow = false
        if first == UInt8(ascii: "0") {
            index += 1
            if let next = current, next >= UInt8(ascii: "0"), next <= UInt8(ascii: "9") {
                throw fail("invalid number: leading zero")
            }
        } else {
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                if !overflow {
                    let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                    let (next, o2) = times10.subtractingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                    if o1 || o2 { overflow = true } else { magnitude = next }
                }
                index += 1
            }
        }
        var isInteger = true
        if current == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw fail("invalid number: digits expected after '.'")
            }
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw fail("invalid number: digits expected in the exponent")
            }
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        }
        if !building { return .null }
        if isInteger && !overflow {
            if negative { return .int(magnitude) }
            if magnitude != Int64.min { return .int(-magnitude) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let double = Double(text) else { throw fail("invalid number") }
        return .double(double)
    }
}
