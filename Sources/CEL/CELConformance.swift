// Runs conformance test files (docs/rules.md) given their contents; used by `cel conformance` and the tests.

import Foundation

/// The runner for cel-spec conformance files in typed-JSON form.
public enum CELConformance {
    /// One test outcome.
    public struct TestResult: Sendable {
        public var id: String
        public var passed: Bool
        public var skipped: Bool
        /// Why it failed (or was skipped).
        public var detail: String
    }

    /// Tests that are not run, each with the reason. Must stay under 3% of all tests.
    public static let skipList: [String: String] = [
        "parse/bytes_literals/triple_single_quoted_unescaped_punctuation":
            "test data defect: expects a backslash (\\?) that the converted source text no longer contains",
        "parse/bytes_literals/triple_double_quoted_unescaped_punctuation":
            "test data defect: expects a backslash (\\?) that the converted source text no longer contains",
    ]

    /// Runs every test of one file's JSON text.
    /// - Throws: `CELError` when the file itself is not a valid conformance file.
    public static func run(fileContents: Data) throws(CELError) -> [TestResult] {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: fileContents)
        } catch {
            throw CELError.evaluation("conformance file is not valid JSON (\(CELValue.jsonProblem(error)))")
        }
        guard let file = root as? [String: Any], let tests = file["tests"] as? [[String: Any]] else {
            throw CELError.evaluation("conformance file must be an object with a \"tests\" array")
        }
        return tests.map(runTest)
    }

    static func runTest(_ test: [String: Any]) -> TestResult {
        let id = test["id"] as? String ?? "?"
        if let reason = skipList[id] { return TestResult(id: id, passed: true, skipped: true, detail: reason) }
        guard let expression = test["expr"] as? String, let expect = test["expect"] as? [String: Any] else {
            return TestResult(id: id, passed: false, skipped: false, detail: "malformed test: needs expr and expect")
        }
        let environment = CELEnvironment(macrosEnabled: !(test["disable_macros"] as? Bool ?? false))
        var variables: [String: CELValue] = [:]
        do throws(CELError) {
            if let bindings = test["bindings"] as? [String: Any] {
                for (name, typed) in bindings { variables[name] = try CELValue(typedJSON: typed) }
            }
        } catch {
            return TestResult(id: id, passed: false, skipped: false, detail: "bad bindings: \(error)")
        }
        let outcome: Result<CELValue, CELError>
        do throws(CELError) {
            let program = try environment.compile(expression)
            outcome = .success(try program.evaluate(CELActivation(variables)))
        } catch {
            outcome = .failure(error)
        }
        if expect["error"] != nil {
            switch outcome {
            case .failure: return TestResult(id: id, passed: true, skipped: false, detail: "")
            case .success(let value):
                return TestResult(
                    id: id,
                    passed: false,
                    skipped: false,
                    detail: "\(expression): expected an error, got \(value.typedJSONText)"
                )
            }
        }
        let expected: CELValue
        do throws(CELError) {
            expected = try CELValue(typedJSON: expect["value"] ?? NSNull())
        } catch {
            return TestResult(id: id, passed: false, skipped: false, detail: "bad expected value: \(error)")
        }
        switch outcome {
        case .failure(let error):
            return TestResult(
                id: id,
                passed: false,
                skipped: false,
                detail: "\(expression): expected \(expected.typedJSONText), got error: \(error)"
            )
        case .success(let value):
            if value.conformanceEquals(expected) { return TestResult(id: id, passed: true, skipped: false, detail: "") }
            return TestResult(
                id: id,
                passed: false,
                skipped: false,
                detail: "\(expression): expected \(expected.typedJSONText), got \(value.typedJSONText)"
            )
        }
    }
}
