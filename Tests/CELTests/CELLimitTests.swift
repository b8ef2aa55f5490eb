import CEL
import Testing

@Suite struct CELLimitTests {
    static let deepInputs: [String] = [
        String(repeating: "(", count: 100_000) + "1" + String(repeating: ")", count: 100_000),
        String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000),
        String(repeating: "{1:", count: 100_000) + "1" + String(repeating: "}", count: 100_000),
        String(repeating: "!", count: 100_000) + "true",
        String(repeating: "-", count: 100_000) + "1",
        "a" + String(repeating: ".b", count: 100_000),
        "a" + String(repeating: "[0]", count: 100_000),
        String(repeating: "f(", count: 100_000) + String(repeating: ")", count: 100_000),
        "1" + String(repeating: " + 1", count: 100_000),
        String(repeating: "true ? 1 : ", count: 100_000) + "0",
    ]

    @Test(arguments: deepInputs.indices)
    func deepNestingIsAnErrorNotACrash(_ index: Int) {
        var environment = CELEnvironment()
        environment.limits.maximumExpressionSize = 10_000_000
        do {
            _ = try environment.compile(Self.deepInputs[index])
            Issue.record("nesting 100,000 levels deep compiled")
        } catch {
            #expect(error.code == .limit, "\(error.message.prefix(200))")
            #expect(error.message.contains("limit of 250"))
        }
    }

    @Test func nestingWithinTheLimitCompiles() throws {
        let source = String(repeating: "(", count: 100) + "1" + String(repeating: ")", count: 100)
        #expect(try CELEnvironment().compile(source).evaluate(CELActivation()) == .int(1))
        let chain = Array(repeating: "true", count: 2_000).joined(separator: " && ")
        #expect(try CELEnvironment().compile(chain).evaluate(CELActivation()) == .bool(true))
    }

    @Test(arguments: ["[", "{0: ", "f(", "!", "-", "x.all(a, ", "cel.bind(b, 1, "])
    func nestingJustUnderTheLimitEvaluatesWithoutOverflowingTheStack(_ opener: String) {
        let closers: [String: String] = [
            "[": "]", "{0: ": "}", "f(": ")", "!": "", "-": "", "x.all(a, ": ")", "cel.bind(b, 1, ": ")",
        ]
        let depth = 240
        let leaf = opener == "!" || opener == "x.all(a, " ? "true" : "1"
        let source =
            String(repeating: opener, count: depth) + leaf
            + String(repeating: closers[opener]!, count: depth)
        do {
            let program = try CELEnvironment().compile(source)
            _ = try? program.evaluate(CELActivation(["x": .list([.int(1)])]))
        } catch {
            // Some shapes add more than one level per opener; then the limit error is the right outcome.
            #expect(error.code == .limit, "\(error.message.prefix(200))")
        }
    }

    @Test func expressionSizeLimit() {
        var environment = CELEnvironment()
        environment.limits.maximumExpressionSize = 100
        #expect {
            _ = try environment.compile(String(repeating: "1 + ", count: 50) + "1")
        } throws: { error in
            (error as? CELError)?.code == .limit && "\(error)".contains("over the limit of 100")
        }
    }

    @Test func nestedComprehensionsExhaustTheCostBudget() throws {
        let items = CELValue.list((0..<200).map { .int($0) })
        let program = try CELEnvironment().compile("x.all(a, x.all(b, x.all(c, a + b + c >= 0)))")
        #expect {
            _ = try program.evaluate(CELActivation(["x": items]))
        } throws: { error in
            guard let error = error as? CELError else { return false }
            return error.code == .limit && error.message.contains("cost exceeded the limit of 1000000")
        }
    }

    @Test func costLimitIsConfigurable() throws {
        var environment = CELEnvironment()
        environment.limits.maximumCost = 50
        let small = try environment.compile("[1, 2, 3].map(x, x * 2)")
        #expect(try small.evaluate(CELActivation()) == .list([.int(2), .int(4), .int(6)]))
        let large = try environment.compile("x.map(a, x.map(b, a * b))")
        let items = CELValue.list((0..<10).map { .int($0) })
        #expect(throws: CELError.self) { try large.evaluate(CELActivation(["x": items])) }
    }

    @Test func errorsAbsorbedByLogicDoNotAbsorbLimits() throws {
        var environment = CELEnvironment()
        environment.limits.maximumCost = 100
        let program = try environment.compile("x.exists(a, x.exists(b, a == -1)) || true")
        let items = CELValue.list((0..<50).map { .int($0) })
        // `|| true` absorbs ordinary errors, but exceeding the budget must still stop evaluation.
        let result = Result { () throws(CELError) in try program.evaluate(CELActivation(["x": items])) }
        if case .failure(let error) = result {
            #expect(error.code == .limit)
        } else {
            Issue.record("cost limit was absorbed: \(result)")
        }
    }
}
