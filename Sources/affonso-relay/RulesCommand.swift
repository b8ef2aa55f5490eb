import ArgumentParser
import Foundation
import RelayConfig
import Rules

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

    /// Loads the rules, printing diagnostics; exits 2 (or 1 with `failureCode`) on errors.
    static func load(_ path: String, failureCode: Int32 = 2) throws -> RelayConfigLoader.Loaded {
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
            let input = FileHandle.standardInput
            let output = FileHandle.standardOutput
            var pending: [UInt8] = []
            var outputBuffer: [UInt8] = []
            outputBuffer.reserveCapacity(1 << 20)
            var lineNumber = 0
            func flush() {
                output.write(Data(outputBuffer))
                outputBuffer.removeAll(keepingCapacity: true)
            }
            func process(_ line: ArraySlice<UInt8>) {
                lineNumber += 1
                let outcome: RecordOutcome
                switch ApplyLine.record(from: Array(line), topic: topic, lineNumber: lineNumber) {
                case .success(let record): outcome = ruleSet.apply(record)
                case .failure(let error): outcome = .failed(error)
                }
                outputBuffer += ApplyLine.line(for: outcome)
                outputBuffer.append(0x0A)
                if outputBuffer.count >= 1 << 20 { flush() }
            }
            while true {
                let chunk = input.readData(ofLength: 1 << 20)
                if chunk.isEmpty { break }
                pending += chunk
                var start = pending.startIndex
                while let newline = pending[start...].firstIndex(of: 0x0A) {
                    let line = pending[start..<newline]
                    if !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { process(line) }
                    start = newline + 1
                }
                pending.removeSubrange(..<start)
            }
            if !pending.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 || $0 == 0x0A }) { process(pending[...]) }
            flush()
        }
    }
}
