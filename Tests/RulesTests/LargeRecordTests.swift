import CEL
import Foundation
import Rules
import Testing

/// Records built to cost too much: objects with very many distinct keys and records with thousands of headers
/// decode in linear time. Quadratic behaviour at these sizes takes minutes, so the generous debug-build bounds
/// below catch it.
@Suite("Records that cost too much")
struct LargeRecordTests {
    static func bigObject(keys: Int, repeatEvery: Int? = nil) -> [UInt8] {
        var text = "{"
        text.reserveCapacity(keys * 16)
        for index in 0..<keys {
            if index > 0 { text += "," }
            if let repeatEvery, index % repeatEvery == repeatEvery - 1 {
                text += "\"k\(index / 2)\":\"again\(index)\""
            } else {
                text += "\"k\(index)\":\(index)"
            }
        }
        return Array((text + "}").utf8)
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let started = ContinuousClock.now
        try body()
        let (seconds, attoseconds) = started.duration(to: .now).components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }

    @Test("200,000 distinct keys in one object decode in linear time")
    func manyKeys() throws {
        let bytes = Self.bigObject(keys: 200_000)
        var value: CELValue = .null
        let elapsed = try Self.seconds { value = try RulesJSON.decode(bytes) }
        guard case .map(let map) = value else { throw TestFailure("not a map") }
        #expect(map.count == 200_000)
        #expect(map["k0"] == .int(0))
        #expect(map["k199999"] == .int(199_999))
        #expect(map.entries[123_456].key == .string("k123456"), "members keep their order")
        #expect(elapsed < 5, "decoding took \(elapsed) s")
    }

    @Test("repeated names in a large object keep the last value at the first position")
    func duplicatesInLargeObject() throws {
        // Every 10th member repeats an earlier name (k<index/2>), also names first seen before indexing started.
        let value = try RulesJSON.decode(Self.bigObject(keys: 1_000, repeatEvery: 10))
        guard case .map(let map) = value else { throw TestFailure("not a map") }
        let repeats = Set(stride(from: 9, to: 1_000, by: 10).map { $0 / 2 })
        let distinct = Set((0..<1_000).filter { $0 % 10 != 9 }).union(repeats).count
        #expect(map.count == distinct)
        #expect(map["k4"] == .string("again9"))
        #expect(map["k499"] == .string("again999"))
        #expect(map["k3"] == .int(3))
        #expect(map.entries[4].key == .string("k4"), "a repeated name stays where it was first seen")
        // And across the switch from scan to hash table: a name of the first 16 repeated after the 17th.
        var text = "{" + (0..<40).map { "\"m\($0)\":\($0)" }.joined(separator: ",") + ",\"m3\":\"last\"}"
        guard case .map(let small) = try RulesJSON.decode(Array(text.utf8)) else { throw TestFailure("not a map") }
        #expect(small.count == 40)
        #expect(small["m3"] == .string("last"))
        text = #"{"a":1,"b":2,"a":3}"#
        guard case .map(let tiny) = try RulesJSON.decode(Array(text.utf8)) else { throw TestFailure("not a map") }
        #expect(tiny.count == 2 && tiny["a"] == .int(3))
    }

    @Test("a record with 50,000 headers (repeated names too) maps in linear time, last value wins")
    func manyHeaders() throws {
        let ruleSet = try makeRuleSet([
            rule(
                "r",
                event: [
                    ("event_name", "'x'"), ("customer_id", "record.headers['h49999']"),
                    ("external_user_id", "record.headers['h7']"), ("metadata", "{'n': string(size(record.headers))}"),
                ])
        ])
        var headers: [(String, String)] = (0..<50_000).map { ("h\($0)", "v\($0)") }
        headers += (0..<20_000).map { ("ce_x\($0 % 100)", "a\($0)") }
        headers.append(("h7", "last"))
        var outcome: RecordOutcome?
        let elapsed = Self.seconds { outcome = ruleSet.apply(record(#"{"c":1}"#, headers: headers)) }
        let result = try #require(outcome?.results.first)
        let event = try result.result.get()
        guard case .map(let body) = try RulesJSON.decode(event.body) else { throw TestFailure("not a map") }
        #expect(body["customer_id"] == .string("v49999"))
        #expect(body["external_user_id"] == .string("last"))
        #expect(body["metadata"].flatMap { if case .map(let m) = $0 { m["n"] } else { nil } } == .string("50100"))
        #expect(elapsed < 5, "mapping took \(elapsed) s")
    }
}
