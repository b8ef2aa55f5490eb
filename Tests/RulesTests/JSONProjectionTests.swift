import CEL
import SeededRandom
import Testing

@testable import Rules

/// The relay builds only the members of a record's JSON value that its rules read (``JSONParser/Projection``); the
/// rest is checked as strictly and skipped. A user notices neither: the same events, the same decode errors.
@Suite("JSON projections")
struct JSONProjectionTests {
    @Test("the body writer escapes every control character, quote and backslash; the result parses back the same")
    func writerEscapes() throws {
        let original = String(decoding: Array(UInt8(0x00)...UInt8(0x1F)) + Array("\"\\é/".utf8), as: UTF8.self)
        var writer = JSONWriter()
        writer.writeString(original)
        let written = String(decoding: writer.bytes, as: UTF8.self)
        let controls = (0x00...0x1F).map { byte -> String in
            switch byte {
            case 0x09: return "\\t"
            case 0x0A: return "\\n"
            case 0x0D: return "\\r"
            default: return "\\u00" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
            }
        }
        #expect(written == "\"" + controls.joined() + "\\\"\\\\é/\"")
        #expect(try JSONParser.parse(writer.bytes) == .string(original))
    }

    @Test("the body writer escapes a quote, backslash or control character at every position of strings up to 25 bytes")
    func writerEscapesEveryPosition() throws {
        for length in 0...25 {
            for position in 0..<max(1, length) {
                for special in ["\"", "\\", "\u{1}", "\n", "é"] {
                    var characters = Array(repeating: "x", count: length)
                    if length > 0 { characters[position] = special }
                    let original = characters.joined()
                    var writer = JSONWriter()
                    writer.writeString(original)
                    #expect(try JSONParser.parse(writer.bytes) == .string(original), "\(length) \(position)")
                    #expect(!writer.bytes.dropFirst().dropLast().contains { $0 < 0x20 }, "\(length) \(position)")
                }
            }
        }
    }

    static let names = ["a", "b", "id", "data", "type", "é", "k\"q", "order"]

    @Test("a projected parse builds exactly the selected members of the full parse (2,000 seeded documents)")
    func projectedEqualsPruned() throws {
        for seed in UInt64(1)...2_000 {
            var random = SplitMix64(seed: seed)
            let document = Self.document(&random, depth: 0)
            let selection = Self.selection(&random, depth: 0)
            let bytes = Array(document.utf8)
            let full = try JSONParser.parse(bytes)
            let projected = try JSONParser.parse(bytes, projection: .of(selection))
            #expect(projected == Self.prune(full, selection), "seed \(seed)")
        }
    }

    @Test("a projection of 100 members keeps each one once, with its last value, in the order the record has them")
    func manyProjectedMembers() throws {
        // Kept members are told apart by their place in the projection, on 64 bits: places 0 and 64 share one.
        let names = (0..<100).map { "m\($0)" }
        let selection = CELSelection(members: Dictionary(uniqueKeysWithValues: names.map { ($0, CELSelection.whole) }))
        let members = names.reversed().map { "\"\($0)\":1" } + names.map { "\"\($0)\":2" } + ["\"other\":3"]
        let bytes = Array(("{" + members.joined(separator: ",") + "}").utf8)
        let projected = try JSONParser.parse(bytes, projection: .of(selection))
        let full = try JSONParser.parse(bytes)
        #expect(projected == Self.prune(full, selection))
        guard case .map(let map) = projected else {
            Issue.record("not a map: \(projected)")
            return
        }
        #expect(map.entries.map(\.key) == names.reversed().map { CELValue.string($0) })
        #expect(map.entries.allSatisfy { $0.value == .int(2) })
    }

    @Test("a broken document fails with the same message at the same offset, read whole or projected")
    func sameErrors() {
        for seed in UInt64(1)...2_000 {
            var random = SplitMix64(seed: seed)
            var bytes = Array(Self.document(&random, depth: 0).utf8)
            let selection = Self.selection(&random, depth: 0)
            // One byte replaced, or the document cut short.
            let position = Int.random(in: 0..<bytes.count, using: &random)
            if Bool.random(using: &random) {
                bytes[position] = Array("{}[]\",:\\ x0-.e\u{1}".utf8).randomElement(using: &random)!
            } else {
                bytes.removeSubrange(position...)
            }
            let full = Result { () throws(JSONParser.Failure) in try JSONParser.parse(bytes) }
            let projected = Result { () throws(JSONParser.Failure) in
                try JSONParser.parse(bytes, projection: .of(selection))
            }
            switch (full, projected) {
            case (.success, .success):
                break
            case (.failure(let whole), .failure(let part)):
                #expect(whole.message == part.message && whole.offset == part.offset, "seed \(seed)")
            default:
                Issue.record("seed \(seed): one parse failed, the other did not")
            }
        }
    }

    @Test("nesting deeper than the limit fails inside a skipped member too")
    func depthInSkippedMember() {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        let bytes = Array(#"{"id":"x","skipped":\#(deep)}"#.utf8)
        let selection = CELSelection(members: ["id": .whole])
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(bytes, projection: .of(selection)) }
    }

    @Test("rules map the same events whether they read a few members or the whole value")
    func sameEvents() throws {
        let fields = [
            ("event_type", "'conversion'"), ("event_name", "'order_paid'"),
            ("customer_id", "payload.order.customer.id"),
            ("sale_amount", "double(payload.order.total) / 100.0"), ("sale_amount_currency", "'EUR'"),
            ("external_event_id", "payload.id"),
        ]
        let few = try makeRuleSet([rule("few", match: "payload.type == 'order.paid'", event: fields)])
        // `size(payload) > 0` reads the value whole, so nothing is skipped.
        let all = try makeRuleSet([
            rule("few", match: "payload.type == 'order.paid' && size(payload) > 0", event: fields)
        ])
        let noise = (0..<2_000).map { #""k\#($0)": {"x": [1, "é", null, {"y": -2.5e3}]}"# }.joined(separator: ",")
        let value = #"{"type":"order.paid","id":"evt_1",\#(noise),"order":{"total":5899,"customer":{"id":"cus_7"}}}"#
        #expect(few.apply(record(value)) == all.apply(record(value)))
        guard case .results(let results) = few.apply(record(value)), case .success(let event) = results.first?.result
        else { throw TestFailure("no event") }
        #expect(event.externalEventID == "evt_1")
    }

    @Test("a broken member the rules never read still makes the record a decode error")
    func brokenUnreadMember() throws {
        let rules = try makeRuleSet([
            rule(
                "r", event: [("event_type", "'lead'"), ("event_name", "'signup'"), ("external_event_id", "payload.id")])
        ])
        let outcome = rules.apply(record(#"{"id":"evt_1","unread":{"a":[1,2,}}"#))
        guard case .failed(let error) = outcome else { throw TestFailure("not a decode error") }
        #expect(error.message.contains("not valid JSON"))
        #expect(error.message.contains("unexpected character '}' at byte 33"))
    }

    // MARK: - Generators

    @Test("the eight-bytes-at-a-time string scan flags exactly the byte that is not plain ASCII, at every position")
    func wordScan() {
        for byte in UInt8(0)...UInt8(255) {
            for position in 0..<8 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 8)
                bytes[position] = byte
                let word = UInt64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
                let expected: UInt64 = JSONParser.isPlain(byte) ? 0 : 0x80 << (8 * position)
                #expect(JSONParser.nonPlainBytes(word) == expected, "byte \(byte) at \(position)")
            }
        }
    }

    @Test("member names and strings of any length, whatever byte follows their plain run, parse and skip right")
    func stringsOfEveryLength() throws {
        // What follows the plain run: its end, an escape, UTF-8, DEL (plain in JSON), and a control byte (an error).
        let tails: [(text: String, value: String?)] = [
            ("\"", ""), ("\\n\"", "\n"), ("é\"", "é"), ("\u{7F}\"", "\u{7F}"), ("\u{1}\"", nil),
        ]
        for length in 0...25 {
            let run = String((0..<length).map { Character(UnicodeScalar(UInt8(ascii: "a") + UInt8($0 % 26))) })
            for tail in tails {
                let document = Array("{\"\(run)\(tail.text):\"\(run)\(tail.text)}".utf8)
                let whole = Result { () throws(JSONParser.Failure) in try JSONParser.parse(document) }
                let skipped = Result { () throws(JSONParser.Failure) in
                    try JSONParser.parse(document, projection: .nothing)
                }
                let kept = Result { () throws(JSONParser.Failure) in
                    try JSONParser.parse(
                        document, projection: .of(CELSelection(members: [run + (tail.value ?? ""): .whole])))
                }
                guard let value = tail.value else {
                    // The control byte of the name is where the parse fails, however the value is read.
                    for result in [whole, skipped, kept] {
                        #expect(throws: JSONParser.Failure.self) { try result.get() }
                        if case .failure(let failure) = result { #expect(failure.offset == 2 + length) }
                    }
                    continue
                }
                let expected = CELValue.map(CELMap([(.string(run + value), .string(run + value))]))
                #expect(try whole.get() == expected, "length \(length), tail \(tail.text)")
                #expect(try skipped.get() == .map(CELMap()), "length \(length), tail \(tail.text)")
                #expect(try kept.get() == expected, "length \(length), tail \(tail.text)")
            }
        }
    }

    static func document(_ random: inout SplitMix64, depth: Int) -> String {
        let roll = Int.random(in: 0..<(depth >= 4 ? 6 : 10), using: &random)
        switch roll {
        case 0: return "null"
        case 1: return Bool.random(using: &random) ? "true" : "false"
        case 2: return String(Int64.random(in: -1_000_000...1_000_000, using: &random))
        case 3: return ["1.5", "-0.25e3", "9223372036854775808", "1E-2", "0"].randomElement(using: &random)!
        case 4, 5:
            return ["\"\"", "\"plain\"", "\"é😀\"", "\"esc\\\"aped\\n\"", "\"\\u00e9\\ud83d\\ude00\""]
                .randomElement(using: &random)!
        case 6, 7:
            let count = Int.random(in: 0...4, using: &random)
            let elements = (0..<count).map { _ in document(&random, depth: depth + 1) }
            return "[" + elements.joined(separator: ", ") + "]"
        default:
            let count = Int.random(in: 0...5, using: &random)
            let members = (0..<count).map { _ in
                let name = names.randomElement(using: &random)!
                return "\(jsonString(name)): \(document(&random, depth: depth + 1))"
            }
            return "{" + members.joined(separator: ",") + "}"
        }
    }

    static func jsonString(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func selection(_ random: inout SplitMix64, depth: Int) -> CELSelection {
        if depth > 0 && Int.random(in: 0..<4, using: &random) == 0 { return .whole }
        if depth > 0 && Int.random(in: 0..<5, using: &random) == 0 { return CELSelection() }  // presence only
        var members: [String: CELSelection] = [:]
        for name in names where Int.random(in: 0..<3, using: &random) == 0 {
            members[name] = depth >= 3 ? .whole : selection(&random, depth: depth + 1)
        }
        return CELSelection(members: members)
    }

    /// What a projection keeps of a fully parsed value.
    static func prune(_ value: CELValue, _ selection: CELSelection) -> CELValue {
        if selection.isWhole { return value }
        if selection.members.isEmpty {
            switch value {
            case .map: return .map(CELMap())
            case .list: return .list([])
            default: return .null
            }
        }
        switch value {
        case .map(let map):
            return .map(
                CELMap(
                    map.entries.compactMap { entry -> (key: CELValue, value: CELValue)? in
                        guard case .string(let name) = entry.key, let member = selection.members[name] else {
                            return nil
                        }
                        return (entry.key, prune(entry.value, member))
                    }))
        case .list(let elements):
            return .list(elements.map { prune($0, selection) })
        default:
            return value
        }
    }
}
