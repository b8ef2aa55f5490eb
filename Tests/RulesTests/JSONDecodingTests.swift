import CEL
import Rules
import Testing

@Suite("Record values as JSON")
struct JSONDecodingTests {
    @Test("numbers: ints that fit int64 are int, everything else double")
    func numbers() throws {
        let value = try RulesJSON.decode(
            Array(
                #"[0, -7, 9223372036854775807, -9223372036854775808, 9223372036854775808, 1.5, 1e3, -0.0, 2E-2]"#.utf8)
        )
        #expect(
            value
                == .list([
                    .int(0), .int(-7), .int(.max), .int(.min), .double(9_223_372_036_854_775_808), .double(1.5),
                    .double(1000), .double(-0.0), .double(0.02),
                ])
        )
    }

    @Test("strings: escapes, surrogate pairs and UTF-8 pass through")
    func strings() throws {
        let value = try RulesJSON.decode(Array(#"{"a":"x\"\\\/\n\u00e9\ud83d\ude00","b":"é😀"}"#.utf8))
        guard case .map(let map) = value else { throw TestFailure("not a map") }
        #expect(map["a"] == .string("x\"\\/\né😀"))
        #expect(map["b"] == .string("é😀"))
    }

    @Test("a repeated member keeps its last value")
    func duplicateMembers() throws {
        let value = try RulesJSON.decode(Array(#"{"a":1,"b":2,"a":3}"#.utf8))
        guard case .map(let map) = value else { throw TestFailure("not a map") }
        #expect(map.count == 2)
        #expect(map["a"] == .int(3))
    }

    static let invalid: [(String, [UInt8], String)] = [
        ("trailing comma", Array(#"{"a":1,}"#.utf8), "expected a member name"),
        ("single quotes", Array("{'a':1}".utf8), "expected a member name"),
        ("leading zero", Array("[01]".utf8), "leading zero"),
        ("bare word", Array("invoice".utf8), "unexpected character 'i'"),
        ("truncated", Array(#"{"a":[1,2"#.utf8), "unexpected end of JSON"),
        ("two values", Array("1 2".utf8), "unexpected data after the JSON value"),
        ("control character", Array("\"a\u{01}\"".utf8), "unescaped control character"),
        ("bad escape", Array(#""\q""#.utf8), "invalid escape"),
        ("lone surrogate", Array(#""\ud800x""#.utf8), "unpaired UTF-16 surrogate"),
        ("invalid UTF-8", [0x22, 0xC3, 0x28, 0x22], "invalid UTF-8"),
        ("NaN", Array("NaN".utf8), "unexpected character 'N'"),
        ("empty", [], "unexpected end of JSON"),
    ]

    @Test("invalid JSON is a decode error that says what and where", arguments: invalid)
    func invalidJSON(_ testCase: (String, [UInt8], String)) {
        #expect {
            _ = try RulesJSON.decode(testCase.1)
        } throws: { error in
            guard let error = error as? RulesError else { return false }
            return error.errorClass == "decode" && error.message.contains(testCase.2)
                && error.message.contains("at byte")
        }
    }

    @Test("nesting deeper than the limit is a decode error, not a crash")
    func depthLimit() throws {
        let deep = Array(String(repeating: "[", count: 100_000).utf8)
        #expect {
            _ = try RulesJSON.decode(deep, maximumDepth: 128)
        } throws: { error in
            (error as? RulesError)?.message.contains("nesting deeper than 128") == true
        }
        let ok = Array((String(repeating: "[", count: 128) + String(repeating: "]", count: 128)).utf8)
        _ = try RulesJSON.decode(ok, maximumDepth: 128)
    }

    @Test("canonical output sorts keys and keeps numbers as numbers")
    func canonicalOutput() throws {
        let value = try RulesJSON.decode(Array(#"{"b":[1,2.5,"x"],"a":{"z":null,"y":true}}"#.utf8))
        #expect(RulesJSON.encode(value) == #"{"a":{"y":true,"z":null},"b":[1,2.5,"x"]}"#)
    }

    @Test("RFC 3339 times round-trip, offsets are applied")
    func timestamps() {
        #expect(RulesJSON.parseTimestamp("2026-11-25T15:32:00Z") == CELTimestamp(seconds: 1_795_620_720))
        #expect(RulesJSON.parseTimestamp("2026-11-25T16:32:00+01:00") == CELTimestamp(seconds: 1_795_620_720))
        #expect(
            RulesJSON.formatTimestamp(CELTimestamp(seconds: 1_795_620_720, nanos: 120_000_000))
                == "2026-11-25T15:32:00.120Z")
        #expect(RulesJSON.formatTimestamp(CELTimestamp(seconds: -1)) == "1969-12-31T23:59:59Z")
        #expect(RulesJSON.parseTimestamp("2026-02-30T00:00:00Z") == nil)
        #expect(RulesJSON.parseTimestamp("2026-11-25 15:32:00") == nil)
    }
}
