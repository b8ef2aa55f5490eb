import ArgumentParser
import Dispatch
import Foundation
import RelayConfig
import Rules

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `affonso-relay rules check|test|apply` (SPEC.md §1, §3, §4).
struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Check, test and try topic rules.",
        subcommands: [Check.self, Test.self, Apply.self]
    )

    struct ConfigOption: ParsableArguments {
        @Option(name: .long, help: "Path to relay.yaml.")
        var config: String
    }

    /// Loads the rules, printing diagnostics; exits `failureCode` on configuration errors, 2 when the file is
    /// missing or unreadable.
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
            throw ExitCode(failureCode)
        }
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    // MARK: - check

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile every rule; print errors as file:line:col: message (exit 1 on error)."
        )
        @OptionGroup var options: ConfigOption

        func run() async throws {
            let loaded = try RulesCommand.load(options.config, failureCode: 1)
            for warning in loaded.warnings { print(warning.description) }
            let count = loaded.ruleSet.ruleNames.count
            print("\(count) rule\(count == 1 ? "" : "s") OK")
        }
    }

    // MARK: - test

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run every rule's examples; print N passed, M failed (exit 1 on failure)."
        )
        @OptionGroup var options: ConfigOption

        func run() async throws {
            let loaded = try RulesCommand.load(options.config, failureCode: 1)
            let reports = loaded.ruleSet.runExamples()
            for report in reports {
                if let failure = report.failure {
                    print("FAIL \(report.rule) / \(report.example): \(failure)")
                } else {
                    print("ok   \(report.rule) / \(report.example)")
                }
            }
            let failed = reports.filter { !$0.passed }.count
            print("\(reports.count - failed) passed, \(failed) failed")
            if failed > 0 { throw ExitCode(1) }
        }
    }

    // MARK: - apply

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Map records (JSON lines on stdin) to events; one outcome line per record on stdout."
        )
        @OptionGroup var options: ConfigOption
        @Option(name: .long, help: "The topic the records come from.")
        var topic: String

        func run() async throws {
            let loaded = try RulesCommand.load(options.config)
            let ruleSet = loaded.ruleSet
            let topic = topic
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
                    case .failure(let error): outcome = .failed(error)
                    }
                    return ApplyLine.line(for: outcome)
                }
                for stripe in stripes { output.write(Data(stripe)) }
                pending.removeSubrange(..<start)
            }
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
