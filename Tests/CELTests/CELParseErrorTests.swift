import CEL
import Testing

@Suite struct CELParseErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var source: String
        var line: Int
        var column: Int
        var fragment: String
        var testDescription: String { source }
    }

    static let cases: [Case] = [
        Case(source: "a +", line: 1, column: 4, fragment: "end of input"),
        Case(source: "payload.type = 'x'", line: 1, column: 14, fragment: "'=='"),
        Case(source: "1 +\n  (2 * )", line: 2, column: 8, fragment: "unexpected ')'"),
        Case(source: "'unterminated", line: 1, column: 1, fragment: "unterminated string"),
        Case(source: "[1, 2", line: 1, column: 6, fragment: "']'"),
        Case(source: "{'a' 1}", line: 1, column: 6, fragment: "':'"),
        Case(source: "x.if", line: 1, column: 1, fragment: ""),
        Case(source: "if", line: 1, column: 1, fragment: "reserved"),
        Case(source: "99999999999999999999", line: 1, column: 1, fragment: "out of range"),
        Case(source: "'é' + #", line: 1, column: 7, fragment: "unexpected character '#'"),
        Case(source: "a.b.(c)", line: 1, column: 5, fragment: "field or method name"),
        Case(source: "a & b", line: 1, column: 3, fragment: "'&&'"),
    ]

    @Test(arguments: cases)
    func reportsPosition(_ testCase: Case) {
        do {
            let program = try CELEnvironment().compile(testCase.source)
            // `x.if` is valid CEL (a field named like a keyword); it must still compile.
            #expect(testCase.fragment.isEmpty, "expected a parse error, compiled \(program.source)")
        } catch {
            #expect(!testCase.fragment.isEmpty, "unexpected error \(error)")
            #expect(error.code == .parse)
            #expect(error.position?.line == testCase.line, "\(error)")
            #expect(error.position?.column == testCase.column, "\(error)")
            #expect(error.message.contains(testCase.fragment), "\(error.message)")
            // The caret excerpt points at the column.
            let caretLine = error.message.split(separator: "\n").last.map(String.init) ?? ""
            #expect(caretLine.hasSuffix("^"))
            #expect(caretLine.count == " | ".count + testCase.column, "\(error.message)")
        }
    }

    @Test func descriptionStartsWithLineAndColumn() {
        #expect(throws: CELError.self) { try CELEnvironment().compile("1 +\n +") }
        do {
            _ = try CELEnvironment().compile("1 +\n )")
        } catch {
            #expect(error.description.hasPrefix("2:2: "))
        }
    }
}
