import Foundation
import Logging
import Relay
import Synchronization
import Testing

/// The relay's log lines (`logging.format: json` and `text`) as an operator's log pipeline reads them.
@Suite struct LogHandlerTests {
    /// Collects the lines a handler writes.
    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }

        func output(knownSecrets: [String] = []) -> LogOutput {
            LogOutput(knownSecrets: knownSecrets, now: { Date(timeIntervalSince1970: 1_777_885_923.25) }) { line in
                self.lines.withLock { $0.append(line) }
            }
        }
    }

    static func json(_ line: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(object as? [String: Any], "not a JSON object: \(line)")
    }

    /// The keys of a JSON line in the order written.
    static func keyOrder(_ line: String) -> [String] {
        var keys: [String] = []
        var depth = 0
        var index = line.startIndex
        var expectKey = false
        while index < line.endIndex {
            let character = line[index]
            if character == "{" {
                depth += 1
                expectKey = depth == 1
            } else if character == "}" {
                depth -= 1
            } else if character == "," && depth == 1 {
                expectKey = true
            } else if character == "\"" {
                var end = line.index(after: index)
                while line[end] != "\"" { end = line.index(end, offsetBy: line[end] == "\\" ? 2 : 1) }
                if expectKey && depth == 1 { keys.append(String(line[line.index(after: index)..<end])) }
                expectKey = false
                index = end
            }
            index = line.index(after: index)
        }
        return keys
    }

    @Test func jsonLineHasTimeLevelMessageThenSortedMetadataThenLogger() throws {
        let lines = Lines()
        let logger = Logger(label: "affonso-relay") { JSONLogHandler(label: $0, level: .info, output: lines.output()) }
        logger.warning(
            "event dead-lettered to billing.dlq",
            metadata: ["topic": "billing", "partition": "2", "offset": "41", "rule": "invoice-paid", "class": "decode"]
        )
        let line = try #require(lines.all.first)
        #expect(line.hasSuffix("}\n") && lines.all.count == 1, "one line per event")
        #expect(
            Self.keyOrder(line) == ["ts", "level", "msg", "class", "offset", "partition", "rule", "topic", "logger"])
        let object = try Self.json(line)
        #expect(object["ts"] as? String == "2026-05-04T09:12:03.250Z")
        #expect(object["level"] as? String == "warning")
        #expect(object["msg"] as? String == "event dead-lettered to billing.dlq")
        #expect(object["partition"] as? String == "2")
        #expect(object["logger"] as? String == "affonso-relay")
    }

    @Test(arguments: [
        "quote \" backslash \\ slash /",
        "line\nbreak\r\ttab",
        "bell \u{07} nul \u{00} escape \u{1B} delete \u{7F}",
        "unicode é 漢字 🎉",
    ])
    func jsonEscapesEveryCharacterSoTheLineParsesBack(_ text: String) throws {
        let lines = Lines()
        let logger = Logger(label: "l") { JSONLogHandler(label: $0, level: .info, output: lines.output()) }
        logger.info("\(text)", metadata: ["detail": "\(text)"])
        let line = try #require(lines.all.first)
        #expect(line.dropLast().allSatisfy { $0 != "\n" }, "the line has no raw line break inside")
        let object = try Self.json(line)
        #expect(object["msg"] as? String == text)
        #expect(object["detail"] as? String == text)
    }

    @Test func jsonNestsArraysAndDictionariesAndRenamesClashingKeys() throws {
        let lines = Lines()
        let logger = Logger(label: "l") { JSONLogHandler(label: $0, level: .info, output: lines.output()) }
        logger.info(
            "nested",
            metadata: [
                "partitions": ["billing[0]", "billing[1]"], "limits": ["max": "64", "used": "3"], "msg": "clash",
            ]
        )
        let object = try Self.json(try #require(lines.all.first))
        #expect(object["partitions"] as? [String] == ["billing[0]", "billing[1]"])
        #expect(object["limits"] as? [String: String] == ["max": "64", "used": "3"])
        #expect(object["msg"] as? String == "nested", "the message keeps its key")
        #expect(object["meta.msg"] as? String == "clash")
    }

    @Test func levelBelowTheConfiguredOneIsNotWritten() throws {
        let lines = Lines()
        let logger = Logger(label: "l") { JSONLogHandler(label: $0, level: .notice, output: lines.output()) }
        logger.trace("t")
        logger.debug("d")
        logger.info("i")
        logger.notice("n")
        logger.error("e")
        #expect(try lines.all.map { try Self.json($0)["msg"] as? String } == ["n", "e"])
    }

    @Test func eventMetadataWinsOverProviderWhichWinsOverTheLoggers() throws {
        let lines = Lines()
        let provider = Logger.MetadataProvider { ["rule": "from-provider", "trace": "abc"] }
        var logger = Logger(label: "l") {
            JSONLogHandler(label: $0, level: .info, output: lines.output(), metadataProvider: provider)
        }
        logger[metadataKey: "rule"] = "from-logger"
        logger[metadataKey: "topic"] = "billing"
        logger.info("first")
        logger.info("second", metadata: ["rule": "from-event"])
        let objects = try lines.all.map(Self.json)
        #expect(objects.map { $0["rule"] as? String } == ["from-provider", "from-event"])
        #expect(objects.allSatisfy { $0["topic"] as? String == "billing" && $0["trace"] as? String == "abc" })
    }

    @Test(arguments: [true, false])
    func apiKeysNeverReachTheLine(json: Bool) {
        let lines = Lines()
        let output = lines.output(knownSecrets: ["opaque-key-4471"])
        let logger = Logger(label: "l") { label -> any LogHandler in
            json
                ? JSONLogHandler(label: label, level: .info, output: output)
                : TextLogHandler(level: .info, output: output)
        }
        logger.error("sent with opaque-key-4471", metadata: ["header": "Bearer abc.def", "key": "sk_live_9f8e7d"])
        let line = lines.all.joined()
        for secret in ["opaque-key-4471", "abc.def", "9f8e7d"] {
            #expect(!line.contains(secret), "\(secret) in \(line)")
        }
        #expect(line.contains("[redacted]"))
    }

    @Test func textLineIsTimeLevelMessageThenSortedKeyValues() throws {
        let lines = Lines()
        let logger = Logger(label: "l") { _ in TextLogHandler(level: .info, output: lines.output()) }
        logger.warning(
            "event dead-lettered to billing.dlq",
            metadata: ["topic": "billing", "partition": "2", "rule": "invoice-paid", "class": "decode"]
        )
        #expect(
            lines.all == [
                "2026-05-04T09:12:03.250Z warning event dead-lettered to billing.dlq class=decode partition=2 "
                    + "rule=invoice-paid topic=billing\n"
            ])
    }

    @Test func textQuotesValuesWithSpacesQuotesOrNothingAndKeepsOneLine() throws {
        let lines = Lines()
        let logger = Logger(label: "l") { _ in TextLogHandler(level: .debug, output: lines.output()) }
        logger.debug(
            "two\nlines",
            metadata: ["error": "could not \"send\"", "empty": "", "list": ["a", "b"], "path": "C:\\x", "eq": "a=b"]
        )
        let line = try #require(lines.all.first)
        #expect(lines.all.count == 1 && line.filter { $0 == "\n" }.count == 1)
        #expect(line.hasPrefix("2026-05-04T09:12:03.250Z debug two\\nlines "))
        #expect(line.contains(#" empty="" "#))
        #expect(line.contains(#" eq="a=b" "#))
        #expect(line.contains(#" error="could not \"send\"" "#))
        #expect(line.contains(#" list="[a, b]" "#))
        #expect(line.contains(#" path="C:\\x""#))
        #expect(!line.hasPrefix("{"), "text lines are not JSON")
    }
}
