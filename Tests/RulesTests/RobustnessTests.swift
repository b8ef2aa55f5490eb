import CEL
import Foundation
import RelayConfig
import Rules
import Testing

@Suite("Bad records never crash or block")
struct RobustnessTests {
    /// A small deterministic generator (xorshift), so a failure reproduces.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
    }

    /// A fixture with the topic and headers its rule expects.
    struct Fixture {
        var bytes: [UInt8]
        var topic: String
        var headers: [SourceRecord.Header]
    }

    static func fixtures() throws -> [Fixture] {
        let directory = repositoryRoot + "/examples/fixtures/"
        return try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map { name in
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: directory + name)))
            if name.hasPrefix("app-") { return Fixture(bytes: bytes, topic: "app.lifecycle", headers: []) }
            if name.hasPrefix("order-") {
                return Fixture(
                    bytes: bytes, topic: "app.orders", headers: [.init("content-type", "application/cloudevents+json")])
            }
            if name.hasPrefix("kyc-") {
                let headers: [SourceRecord.Header] = [
                    .init("ce_specversion", "1.0"), .init("ce_id", "1"), .init("ce_source", "/kyc"),
                    .init("ce_type", "com.example.kyc.passed"), .init("ce_subject", "usr_1"),
                    .init("ce_time", "2026-11-25T00:00:00Z"),
                ]
                return Fixture(bytes: bytes, topic: "identity.kyc", headers: headers)
            }
            return Fixture(bytes: bytes, topic: "billing.stripe", headers: [])
        }
    }

    /// Replaces one random leaf of a JSON value with a value of another type.
    static func mutate(_ value: CELValue, _ generator: inout Generator) -> CELValue {
        switch value {
        case .map(let map) where map.count > 0:
            var entries = map.entries
            let index = Int.random(in: 0..<entries.count, using: &generator)
            entries[index].value = mutate(entries[index].value, &generator)
            return .map(CELMap(entries))
        case .list(let list) where !list.isEmpty:
            var list = list
            let index = Int.random(in: 0..<list.count, using: &generator)
            list[index] = mutate(list[index], &generator)
            return .list(list)
        default:
            let replacements: [CELValue] = [
                .null, .int(-1), .double(1e308), .string(""), .string("zzz"), .list([]), .map(CELMap()), .bool(true),
            ]
            return replacements[Int.random(in: 0..<replacements.count, using: &generator)]
        }
    }

    @Test("4,000 corrupted copies of the example payloads each get an outcome of a known class")
    func corruptedRecords() throws {
        let loaded = try RelayConfigLoader.load(
            path: repositoryRoot + "/examples/relay.yaml", environment: [:], purpose: .rules)
        let fixtures = try Self.fixtures()
        var generator = Generator(state: 0x9E37_79B9_7F4A_7C15)
        var counts: [String: Int] = [:]
        for round in 0..<4000 {
            let fixture = fixtures[round % fixtures.count]
            var bytes = fixture.bytes
            switch round % 5 {
            case 0, 1:  // valid JSON with wrong types or values in one or two places
                var value = try RulesJSON.decode(bytes)
                for _ in 0...(round % 2) { value = Self.mutate(value, &generator) }
                bytes = Array(RulesJSON.encode(value).utf8)
            case 2:  // flipped bytes
                for _ in 0..<3 {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(
                        in: 0...255, using: &generator)
                }
            case 3:  // truncated
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            default:  // deep nesting and a huge number spliced in
                let insert = Array((String(repeating: "[", count: 300) + "1e999999").utf8)
                bytes.insert(contentsOf: insert, at: Int.random(in: 0..<bytes.count, using: &generator))
            }
            let outcome = loaded.ruleSet.apply(
                SourceRecord(topic: fixture.topic, offset: Int64(round), value: bytes, headers: fixture.headers)
            )
            switch outcome {
            case .skipped: counts["skipped", default: 0] += 1
            case .failed(let error):
                #expect(["decode", "record_too_large"].contains(error.errorClass))
                counts[error.errorClass, default: 0] += 1
            case .results(let results):
                for result in results {
                    switch result.result {
                    case .success(let event):
                        #expect((try? RulesJSON.decode(event.body)) != nil, "bodies are always valid JSON")
                        counts["event", default: 0] += 1
                    case .failure(let error):
                        #expect(["mapping", "validation"].contains(error.errorClass))
                        #expect(error.message.hasPrefix("rule '\(result.rule)' field '"))
                        counts[error.errorClass, default: 0] += 1
                    }
                }
            }
        }
        for outcome in ["decode", "event", "mapping", "validation", "skipped"] {
            #expect(counts[outcome, default: 0] > 0, "no \(outcome) outcome in \(counts)")
        }
    }
}
