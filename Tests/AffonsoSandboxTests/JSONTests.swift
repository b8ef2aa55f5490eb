import Testing

@testable import AffonsoSandbox

@Suite("JSON parser and writer")
struct JSONTests {
    @Test func parsesEveryType() throws {
        let value = try JSONParser.parse(
            #" {"s":"a\"b\u00e9\ud83d\ude00","n":-1.5e2,"i":0,"t":true,"f":false,"z":null,"a":[1,[]],"o":{}} "#
        )
        #expect(value["s"] == .string("a\"bé😀"))
        #expect(value["n"] == .number(-150))
        #expect(value["i"] == .number(0))
        #expect(value["t"] == .bool(true))
        #expect(value["f"] == .bool(false))
        #expect(value["z"] == .null)
        #expect(value["a"] == .array([.number(1), .array([])]))
        #expect(value["o"] == .object([:]))
    }

    @Test(arguments: ["", "{", #"{"a":}"#, "[1,]", "01", "1.", "-", "tru", #""\x""#, "{} {}", #""\ud800""#, "1e999"])
    func rejectsInvalidDocuments(text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(text) }
    }

    @Test func rejectsDeepNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(deep) }
    }

    @Test func writerRoundTrips() throws {
        let value = JSONValue.object([
            "text": .string("line\nquote\" back\\ \u{01}"),
            "list": .array([.number(29.7), .number(99), .bool(false), .null]),
        ])
        var writer = JSONWriter()
        writer.value(value)
        #expect(try JSONParser.parse(writer.output) == value)
        #expect(writer.output.contains("99,"))
    }

    @Test(arguments: [
        ("2026-11-25T10:00:00Z", true), ("2026-11-25t10:00:00.5z", true), ("2026-11-25 10:00:00+05:30", true),
        ("2024-02-29T00:00:00Z", true), ("2026-11-25T10:00:00", false), ("2026-13-01T00:00:00Z", false),
        ("2025-02-29T00:00:00Z", false), ("2026-11-25T24:00:00Z", false), ("2026-11-25", false),
    ])
    func rfc3339(text: String, valid: Bool) {
        #expect(RFC3339.isValid(text) == valid)
    }

    @Test func formatsUnixTimes() {
        #expect(RFC3339.format(unixMilliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339.format(unixMilliseconds: 1_795_620_643_123) == "2026-11-25T15:30:43.123Z")
    }
}
