import ArgumentParser
import Dispatch
import Foundation
import RelayConfig
import Rules
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `affonso-relay rules check|test|apply|tap` (docs/rules.md).
struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Check, test and try topic rules.",
        subcommands: [Check.self, Test.self, Apply.self, Tap.self]
    )

    struct ConfigOption: ParsableArguments {
        @Option(name: .long, help: "Path to relay.yaml.")
        var config: String
    }

    /// Loads the rules, printing diagnostics; exits `failureCode` on errors in the rules, 2 on any other
    /// configuration error (a missing file, a rejected `kafka.client_properties` entry, an unknown key).
    static func load(_ path: String, failureCode: Int32 = 2) throws -> RelayConfigLoader.Loaded {
        guard FileManager.default.isReadableFile(atPath: path) else {
            printError("\(path): cannot read the configuration file (does it exist?)")
            throw ExitCode(2)
        }
        do {
            let loaded = try RelayConfigLoader.load(path: path, purpose: .rules)
            return loaded
        } catch {
            for diagnostic in error.diagnostics { printError(diagnostic.description) }
            throw ExitCode(error.isAboutRulesOnly ? failureCode : 2)
        }
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    // MARK: - check

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile every rule; print errors as file:line:col: message (exit 1 on error, or on a warning "
                + "with --strict)."
        )
        @OptionGroup var options: ConfigOption
        @Flag(name: .long, help: "Treat warnings as failures (exit 1), for CI.")
        var strict = false

        func run() async throws {
            let loaded = try RulesCommand.load(options.config, failureCode: 1)
            for warning in loaded.warnings { print(warning.description) }
            let count = loaded.ruleSet.ruleNames.count
            let warnings = loaded.warnings.count
            if strict && warnings > 0 {
                RulesCommand.printError(
                    "\(warnings) warning\(warnings == 1 ? "" : "s") with --strict: fix \(warnings == 1 ? "it" : "them") "
                        + "or run without --strict")
                throw ExitCode(1)
            }
            let refunds = loaded.ruleSet.refundRuleNames.count
            let kinds = refunds == 0 ? "" : " (\(count - refunds) event, \(refunds) refund)"
            print("\(count) rule\(count == 1 ? "" : "s") OK\(kinds)")
        }
    }

    // MARK: - test

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run every rule's examples; print N passed, M failed (exit 1 on failure).",
            discussion: """
                Each FAIL line names the example's file:line. --format junit writes a JUnit XML report (to --output, \
                else instead of the text on stdout).
                """
        )
        @OptionGroup var options: ConfigOption
        @Option(name: .long, help: "Run only this rule's examples (repeatable).")
        var rule: [String] = []
        @Option(name: .long, help: "text (default) or junit.")
        var format: ReportFormat = .text
        @Option(name: .long, help: "Write the report to this file (the text summary still goes to stdout).")
        var output: String?

        enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
            case text, junit
        }

        func run() async throws {
            let loaded = try RulesCommand.load(options.config, failureCode: 1)
            let names = loaded.ruleSet.ruleNames
            for name in rule where !names.contains(name) {
                let hint = Suggestion.closest(to: name, in: names).map { "; did you mean '\($0)'?" } ?? ""
                RulesCommand.printError("--rule \(name): \(options.config) has no rule named '\(name)'\(hint)")
                throw ExitCode(2)
            }
            let reports = loaded.ruleSet.runExamples(only: rule.isEmpty ? nil : Set(rule))
            let failed = reports.filter { !$0.passed }.count
            var text = ""
            for report in reports {
                let place = report.location.map { "\($0): " } ?? ""
                if let failure = report.failure {
                    text += "FAIL \(place)\(report.rule) / \(report.example): \(failure)\n"
                } else {
                    text += "ok   \(report.rule) / \(report.example)\n"
                }
            }
            text += "\(reports.count - failed) passed, \(failed) failed\n"
            switch (format, output) {
            case (.text, nil): print(text, terminator: "")
            case (.junit, nil): print(JUnitReport.xml(reports), terminator: "")
            case (_, let path?):
                let report = format == .junit ? JUnitReport.xml(reports) : text
                guard FileManager.default.createFile(atPath: path, contents: Data(report.utf8)) else {
                    RulesCommand.printError("--output \(path): cannot write the report (does the directory exist?)")
                    throw ExitCode(2)
                }
                print(text, terminator: "")
            }
            if failed > 0 { throw ExitCode(1) }
        }
    }

    // MARK: - apply

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Map records (JSON lines on stdin) to events and refunds; one outcome line per record on stdout.",
            discussion: """
                Each input line is {"value": <record value>} or {"value_base64": "…"}, with optional key, headers, \
                partition, offset, timestamp and topic. With --raw, each line (or the whole input, e.g. one \
                pretty-printed JSON file) is the record value itself. Output: {"results": […]}, {"skipped": true} \
                or {"error": {"class": …, "message": …}} per record, in order; each result has "event" or, from a \
                refund rule, "refund" (its request body plus "conversion") (see docs/rules.md).
                """
        )
        @OptionGroup var options: ConfigOption
        @Option(name: .long, help: "The topic the records come from.")
        var topic: String
        @Flag(name: .long, help: "Each line, or the whole input, is the record value itself (no {\"value\": …}).")
        var raw = false
        @Flag(
            name: .customLong("fail-on-error"),
            help: "Exit 1 when any record could not be decoded or any rule failed on it.")
        var failOnError = false

        func run() async throws {
            let loaded = try RulesCommand.load(options.config)
            let ruleSet = loaded.ruleSet
            let topic = topic
            let tally = ApplyTally()
            defer { tally.printHint(raw: raw) }
            if raw {
                try runRaw(ruleSet, tally)
                return
            }
            let input = StandardInput()
            let output = FileHandle.standardOutput
            let workers = max(1, ProcessInfo.processInfo.activeProcessorCount) * 4
            var pending: [UInt8] = []
            var lineNumber = 0
            var ended = false
            while !ended {
                // Whatever is available (up to 4 MiB): lines piped in slowly are answered as they arrive.
                let chunk = input.read(upTo: 4 << 20)
                if chunk.isEmpty {
                    ended = true
                    if !pending.isEmpty { pending.append(0x0A) }
                } else {
                    pending += chunk
                }
                // Split the complete lines, map them in parallel stripes, write the outcomes in input order.
                var lines: [ArraySlice<UInt8>] = []
                var start = pending.startIndex
                while let newline = pending[start...].firstIndex(of: 0x0A) {
                    let line = pending[start..<newline]
                    if !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { lines.append(line) }
                    start = newline + 1
                }
                guard !lines.isEmpty else {
                    pending.removeSubrange(..<start)
                    continue
                }
                let firstLineNumber = lineNumber + 1
                lineNumber += lines.count
                let stripes = Self.map(lines, firstLineNumber: firstLineNumber, workers: workers) { line, number in
                    let outcome: RecordOutcome
                    switch ApplyLine.record(from: Array(line), topic: topic, lineNumber: number) {
                    case .success(let record): outcome = ruleSet.apply(record)
                    case .failure(let error):
                        outcome = .failed(error)
                        tally.noteUnwrapped(line, number: number)
                    }
                    tally.count(outcome)
                    return ApplyLine.line(for: outcome)
                }
                for stripe in stripes { output.write(Data(stripe)) }
                pending.removeSubrange(..<start)
            }
            if failOnError && tally.failures > 0 { throw ExitCode(1) }
        }

        /// `--raw`: the whole input as one value when it is one JSON document, otherwise one value per line.
        private func runRaw(_ ruleSet: RuleSet, _ tally: ApplyTally) throws {
            let input = StandardInput()
            var bytes: [UInt8] = []
            while true {
                let chunk = input.read(upTo: 4 << 20)
                if chunk.isEmpty { break }
                bytes += chunk
            }
            var values: [ArraySlice<UInt8>]
            if (try? RulesJSON.decode(bytes)) != nil {
                values = [bytes[...]]
            } else {
                values = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
                values.removeAll { $0.allSatisfy { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 } }
            }
            for (index, value) in values.enumerated() {
                let record = SourceRecord(topic: topic, offset: Int64(index), value: Array(value))
                let outcome = ruleSet.apply(record)
                tally.count(outcome)
                FileHandle.standardOutput.write(Data(ApplyLine.line(for: outcome) + [0x0A]))
            }
            if failOnError && tally.failures > 0 { throw ExitCode(1) }
        }

        /// Maps `lines` in `workers` contiguous stripes at once; each stripe's output lines end with a newline.
        static func map(
            _ lines: [ArraySlice<UInt8>],
            firstLineNumber: Int,
            workers: Int,
            _ transform: @Sendable (ArraySlice<UInt8>, Int) -> [UInt8]
        ) -> [[UInt8]] {
            let stripeCount = min(workers, lines.count)
            let stripeSize = (lines.count + stripeCount - 1) / stripeCount
            let results = StripeResults(count: stripeCount)
            DispatchQueue.concurrentPerform(iterations: stripeCount) { stripe in
                var buffer: [UInt8] = []
                buffer.reserveCapacity(stripeSize * 512)
                let range = (stripe * stripeSize)..<min(lines.count, (stripe + 1) * stripeSize)
                for index in range {
                    buffer += transform(lines[index], firstLineNumber + index)
                    buffer.append(0x0A)
                }
                results.set(stripe, buffer)
            }
            return results.values
        }
    }
}

/// What `rules apply` counts while it maps: failures (for `--fail-on-error`) and the first input line that looks
/// like a bare record value rather than a `{"value": …}` line (for a hint).
private final class ApplyTally: Sendable {
    private struct State {
        var failures = 0
        var firstUnwrappedLine: Int?
    }
    private let state = Mutex(State())

    var failures: Int { state.withLock { $0.failures } }

    func count(_ outcome: RecordOutcome) {
        let failed: Bool
        switch outcome {
        case .failed: failed = true
        case .skipped: failed = false
        case .results(let results): failed = results.contains { $0.error != nil }
        }
        if failed { state.withLock { $0.failures += 1 } }
    }

    /// A line that failed to decode as a `rules apply` line: is it a JSON value without the wrapper?
    func noteUnwrapped(_ line: ArraySlice<UInt8>, number: Int) {
        let isBareValue: Bool
        switch try? RulesJSON.decode(Array(line)) {
        case .map(let map)?: isBareValue = map["value"] == nil && map["value_base64"] == nil
        case .some: isBareValue = true
        case nil: isBareValue = line.first { $0 != 0x20 && $0 != 0x09 } == UInt8(ascii: "{")
        }
        guard isBareValue else { return }
        state.withLock { state in state.firstUnwrappedLine = min(state.firstUnwrappedLine ?? number, number) }
    }

    func printHint(raw: Bool) {
        guard !raw, let line = state.withLock({ $0.firstUnwrappedLine }) else { return }
        RulesCommand.printError(
            "hint: input line \(line) is not a rules apply line ({\"value\": <record value>, \"key\": …}); if each "
                + "line (or the whole input) is the record value itself, use --raw")
    }
}

/// One slot per stripe, each written by exactly one worker (no shared array buffer is mutated concurrently).
private final class StripeResults: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<[UInt8]>
    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: [])
    }
    deinit {
        _ = slots.deinitialize()
        slots.deallocate()
    }
    func set(_ index: Int, _ value: [UInt8]) { slots[index] = value }
    var values: [[UInt8]] { Array(slots) }
}

/// Reads standard input with read(2): blocks until some bytes are available, then takes whatever else is
/// already waiting (poll with no timeout), so slow streams are answered line by line and fast ones in big batches.
private struct StandardInput {
    func read(upTo count: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            if filled > 0 && !isReadable() { break }
            let got = buffer.withUnsafeMutableBytes { readStandardInput($0.baseAddress! + filled, count - filled) }
            if got > 0 {
                filled += got
            } else if got == 0 || errno != EINTR {
                break
            }
        }
        buffer.removeSubrange(filled...)
        return buffer
    }

    private func isReadable() -> Bool {
        var descriptor = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }
}

private func readStandardInput(_ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(0, buffer, count)
}
