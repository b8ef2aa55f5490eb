import ArgumentParser
import CEL
import Foundation
import Rules

/// `affonso-relay cel …`: evaluate expressions and run conformance files.
struct CELCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cel",
        abstract: "Evaluate CEL expressions and run CEL conformance files.",
        subcommands: [Eval.self, Conformance.self]
    )

    /// Bad input exits 2 with one clear line (docs/configuration.md, "Commands").
    static func usageError(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode(2)
    }

    /// A file's bytes, or a usage error naming the flag.
    static func contents(_ path: String, _ flag: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw usageError("\(flag) \(path): cannot read the file (does it exist?)")
        }
        return Array(data)
    }

    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a CEL expression and print its value as typed JSON."
        )

        @Argument(help: "The CEL expression.")
        var expression: String

        @Option(help: "Variables as a typed-JSON object, e.g. '{\"x\": {\"int\": \"1\"}}'.")
        var bindings: String?

        @Option(
            name: .customLong("payload-file"),
            help: "A JSON file bound as `payload`, decoded as the relay decodes record values.")
        var payloadFile: String?

        @Option(
            name: .customLong("record-file"),
            help:
                "A file with one `rules apply` input line ({\"value\": …, \"key\": …, \"headers\": …}): binds payload, record and ce as a rule sees them."
        )
        var recordFile: String?

        @Option(help: "The topic of --record-file's record.")
        var topic: String = "topic"

        func run() throws {
            var variables: [String: CELValue] = [:]
            if payloadFile != nil && recordFile != nil {
                throw CELCommand.usageError("give --payload-file or --record-file, not both")
            }
            if let payloadFile {
                let bytes = try CELCommand.contents(payloadFile, "--payload-file")
                do {
                    variables["payload"] = try RulesJSON.decode(bytes)
                } catch {
                    throw CELCommand.usageError("--payload-file \(payloadFile): \(error.message)")
                }
            }
            if let recordFile {
                var bytes = try CELCommand.contents(recordFile, "--record-file")
                while let last = bytes.last, last == 0x0A || last == 0x0D || last == 0x20 { bytes.removeLast() }
                // A pretty-printed file is one record too: the line format is only about the value's shape.
                if let value = try? RulesJSON.decode(bytes) { bytes = Array(RulesJSON.encode(value).utf8) }
                do {
                    let record = try ApplyLine.record(from: bytes, topic: topic, lineNumber: 1).get()
                    variables.merge(try RecordVariables.of(record)) { $1 }
                } catch {
                    throw CELCommand.usageError("--record-file \(recordFile): \(error.message)")
                }
            }
            if let bindings {
                let parsed: Any
                do {
                    parsed = try JSONSerialization.jsonObject(with: Data(bindings.utf8))
                } catch {
                    throw CELCommand.usageError("--bindings is not valid JSON; pass a typed-JSON object")
                }
                guard let object = parsed as? [String: Any] else {
                    throw CELCommand.usageError(
                        "--bindings must be a JSON object of typed values, like {\"x\": {\"int\": \"1\"}}"
                    )
                }
                for (name, typed) in object {
                    do {
                        variables[name] = try CELValue(typedJSON: typed)
                    } catch {
                        throw CELCommand.usageError("--bindings: variable '\(name)': \(error.message)")
                    }
                }
            }
            do {
                let program = try CELEnvironment().compile(expression)
                let value = try program.evaluate(CELActivation(variables))
                print(value.typedJSONText)
            } catch {
                FileHandle.standardError.write(Data("error: \(error.code): \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Conformance: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run CEL conformance files; prints failures, then 'N passed, M failed'."
        )

        @Argument(help: "Conformance files: JSON lists of {id, expr, bindings?, expect: {value} | {error}}.")
        var files: [String]

        func run() throws {
            var passed = 0
            var failed = 0
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw CELCommand.usageError("cannot read conformance file '\(file)'")
                }
                let results: [CELConformance.TestResult]
                do {
                    results = try CELConformance.run(fileContents: data)
                } catch {
                    throw CELCommand.usageError("\(file): \(error.message)")
                }
                for result in results {
                    if result.skipped {
                        print("SKIP \(result.id): \(result.detail)")
                    } else if result.passed {
                        passed += 1
                    } else {
                        failed += 1
                        print("FAIL \(result.id): \(result.detail)")
                    }
                }
            }
            print("\(passed) passed, \(failed) failed")
            if failed > 0 { throw ExitCode(1) }
        }
    }
}
