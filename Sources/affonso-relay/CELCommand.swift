import ArgumentParser
import CEL
import Foundation

/// `affonso-relay cel …`: evaluate expressions and run conformance files.
struct CELCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cel",
        abstract: "Evaluate CEL expressions and run CEL conformance files.",
        subcommands: [Eval.self, Conformance.self]
    )

    /// Bad input exits 2 with one clear line (SPEC.md §1).
    static func usageError(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode(2)
    }

    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a CEL expression and print its value as typed JSON."
        )

        @Argument(help: "The CEL expression.")
        var expression: String

        @Option(help: "Variables as a typed-JSON object, e.g. '{\"x\": {\"int\": \"1\"}}'.")
        var bindings: String?

        func run() throws {
            var variables: [String: CELValue] = [:]
            if let bindings {
                let parsed: Any
                do {
                    parsed = try JSONSerialization.jsonObject(with: Data(bindings.utf8))
                } catch {
                    throw CELCommand.usageError("--bindings is not valid JSON: \(error.localizedDescription)")
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

        @Argument(help: "Conformance files (JSON, SPEC.md §5).")
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
