import CEL
import Testing

@Suite struct CELEvaluationTests {
    func evaluate(_ source: String, _ variables: [String: CELValue] = [:]) throws(CELError) -> CELValue {
        try CELEnvironment().compile(source).evaluate(CELActivation(variables))
    }

    @Test func compiledProgramEvaluatesManyActivations() throws {
        let program = try CELEnvironment().compile("payload.type == 'invoice.paid' && payload.amount > 0")
        for (type, amount, expected) in [("invoice.paid", 5, true), ("invoice.paid", 0, false), ("other", 5, false)] {
            let payload = CELValue.map(CELMap([("type", .string(type)), ("amount", .int(Int64(amount)))]))
            #expect(try program.evaluate(CELActivation(["payload": payload])) == .bool(expected))
        }
    }

    @Test("upperAscii and lowerAscii change ASCII letters only, at every position and length")
    func asciiCase() throws {
        let pieces = ["a", "Z", "é", "😀", "-", "q", "İ", "0"]
        for length in 0...20 {
            let text = (0..<length).map { pieces[($0 * 5 + length) % pieces.count] }.joined()
            let upper = String(text.map { $0.isASCII && $0.isLetter ? Character($0.uppercased()) : $0 })
            let lower = String(text.map { $0.isASCII && $0.isLetter ? Character($0.lowercased()) : $0 })
            #expect(try evaluate("s.upperAscii()", ["s": .string(text)]) == .string(upper), "\(text)")
            #expect(try evaluate("s.lowerAscii()", ["s": .string(text)]) == .string(lower), "\(text)")
        }
        #expect(try evaluate("'EUR'.upperAscii() + 'eur'.lowerAscii()") == .string("EUReur"))
        #expect(throws: CELError.self) { try evaluate("s.upperAscii()", ["s": .int(1)]) }
    }

    @Test("a literal program gives its value however often it is evaluated, with any variables")
    func literalPrograms() throws {
        for (source, value) in [("'conversion'", CELValue.string("conversion")), ("42", .int(42)), ("null", .null)] {
            let program = try CELEnvironment().compile(source)
            for variables in [[:], ["payload": CELValue.int(1)]] {
                #expect(try program.evaluate(CELActivation(variables)) == value)
            }
        }
    }

    @Test func oneProgramIsSafeToShareAcrossTasks() async throws {
        let program = try CELEnvironment().compile("p.items.map(i, i.id).join(',') + ':' + string(p.n)")
        let results = await withTaskGroup(of: Bool.self) { group in
            for n in 0..<64 {
                group.addTask {
                    // Different shapes per task so the field position caches keep changing under contention.
                    var fields: [(String, CELValue)] = [("n", .int(Int64(n)))]
                    let items = CELValue.list((0..<3).map { .map(CELMap([("id", .string("i\($0)"))])) })
                    if n % 2 == 0 { fields.insert(("pad", .null), at: 0) }
                    fields.append(("items", items))
                    let activation = CELActivation(["p": .map(CELMap(fields))])
                    for _ in 0..<200 {
                        guard (try? program.evaluate(activation)) == .string("i0,i1,i2:\(n)") else { return false }
                    }
                    return true
                }
            }
            return await group.reduce(true) { $0 && $1 }
        }
        #expect(results)
    }

    @Test func replaceRefusesHugeResults() throws {
        let big = String(repeating: "a", count: 5_000)
        #expect {
            _ = try evaluate("s.replace('', s)", ["s": .string(big)])
        } throws: { error in
            (error as? CELError)?.code == .limit
        }
        #expect(try evaluate("'abc'.replace('', '-')") == .string("-a-b-c-"))
    }

    /// A rule evaluates its match, variables and fields in one scope: each must give what it gives alone, with no
    /// comprehension variable left over from the one before, a variable set meanwhile seen, and a cost budget of its
    /// own (20 evaluations of at least 300 steps each pass a 5,000 budget; one program over it still fails, and
    /// leaves nothing behind).
    @Test func programsSharingAScopeEvaluateAsIfAlone() throws {
        var environment = CELEnvironment()
        environment.limits.maximumCost = 5_000
        let items = CELValue.list((0..<300).map { .int(Int64($0)) })
        let activation = CELActivation(["p": items, "variables": .map(CELMap())])
        let sources = [
            "p.exists(i, i > 298)", "p.map(i, i * 2)[299]", "p.filter(x, x % 100 == 0).size()",
            "[1, 2].all(i, i > 0) && !has(variables.v)", "p.exists_one(i, i == 7)",
        ]
        let programs = try sources.map { try environment.compile($0) }
        let scope = CELEvaluationScope(activation)
        for (source, program) in zip(sources, programs) {
            #expect(try program.evaluate(in: scope) == program.evaluate(activation), "\(source)")
        }
        for _ in 0..<20 { #expect(try programs[1].evaluate(in: scope) == .int(598)) }
        scope.set("variables", to: .map(CELMap([("v", .int(1))])))
        #expect(try environment.compile("variables.v + 1").evaluate(in: scope) == .int(2))
        let tooCostly = try environment.compile("p.map(i, p.map(j, j)).size()")
        #expect(throws: CELError.self) { _ = try tooCostly.evaluate(in: scope) }
        #expect(try programs[0].evaluate(in: scope) == .bool(true))
    }

    /// A few variables are compared in turn and more are hashed: every one is found, whichever way, and one set on a
    /// scope (a new one, or a new value) is what later evaluations read, also past the number compared in turn.
    @Test func everyVariableIsFoundHoweverManyThereAre() throws {
        for count in [1, 8, 9, 200] {
            let variables = Dictionary(uniqueKeysWithValues: (0..<count).map { ("v\($0)", CELValue.int(Int64($0))) })
            let sum = try CELEnvironment().compile((0..<count).map { "v\($0)" }.joined(separator: " + "))
            #expect(try sum.evaluate(CELActivation(variables)) == .int(Int64(count * (count - 1) / 2)), "\(count)")
            let scope = CELEvaluationScope(CELActivation(variables))
            for extra in 0..<10 { scope.set("w\(extra)", to: .int(1_000)) }
            scope.set("v0", to: .int(-1))
            let read = try CELEnvironment().compile("v0 + w9")
            #expect(try read.evaluate(in: scope) == .int(999), "\(count)")
            #expect(throws: CELError.self) { _ = try CELEnvironment().compile("nope").evaluate(in: scope) }
        }
    }

    @Test func referencedVariablesListsActivationRoots() throws {
        let program = try CELEnvironment().compile("payload.a.map(x, x + variables.b) + [record.c]")
        #expect(program.referencedVariables == ["payload", "variables", "record"])
    }

    @Test func stripeRuleFields() throws {
        let invoice = CELValue.map(
            CELMap([
                ("id", .string("in_1")), ("customer", .string("cus_1")), ("amount_paid", .int(4900)),
                ("currency", .string("eur")), ("subscription", .string("sub_1")),
                (
                    "lines",
                    .map(
                        CELMap([
                            (
                                "data",
                                .list([
                                    .map(CELMap([("price", .map(CELMap([("id", .string("price_a"))])))])),
                                    .map(CELMap([("price", .map(CELMap([("id", .string("price_b"))])))])),
                                ])
                            )
                        ])
                    )
                ),
            ])
        )
        let variables: [String: CELValue] = [
            "variables": .map(CELMap([("invoice", invoice)])),
            "payload": .map(CELMap([("created", .int(1_718_035_200))])),
        ]
        #expect(try evaluate("double(variables.invoice.amount_paid) / 100.0", variables) == .double(49))
        #expect(try evaluate("variables.invoice.currency.upperAscii()", variables) == .string("EUR"))
        #expect(
            try evaluate("variables.invoice.lines.data.map(l, l.price.id)", variables)
                == .list([.string("price_a"), .string("price_b")])
        )
        #expect(try evaluate("has(variables.invoice.subscription)", variables) == .bool(true))
        #expect(try evaluate("has(variables.invoice.discount)", variables) == .bool(false))
        #expect(
            try evaluate("timestamp(payload.created)", variables) == .timestamp(CELTimestamp(seconds: 1_718_035_200))
        )
    }

    @Test func errorsNameTheProblemAndPosition() {
        do {
            _ = try evaluate("payload.missing + 1", ["payload": .map(CELMap())])
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .evaluation)
            #expect(error.message.contains("no such key: 'missing'"))
            #expect(error.position?.column == 8)
        }
        do {
            _ = try evaluate("invoice_paid")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("undeclared reference to 'invoice_paid'"))
        }
    }

    @Test func logicalOperatorsAbsorbErrorsInEitherOrder() throws {
        #expect(try evaluate("x.missing || true", ["x": .map(CELMap())]) == .bool(true))
        #expect(try evaluate("true || x.missing", ["x": .map(CELMap())]) == .bool(true))
        #expect(try evaluate("x.missing && false", ["x": .map(CELMap())]) == .bool(false))
        #expect(throws: CELError.self) { try evaluate("x.missing && true", ["x": .map(CELMap())]) }
    }

    @Test func numericMapKeysAndHeterogeneousComparison() throws {
        #expect(try evaluate("{1: 'a'}[1u]") == .string("a"))
        #expect(try evaluate("{1u: 'a'}[1.0]") == .string("a"))
        #expect(try evaluate("1 == 1.0 && 1u < 2 && 2.5 > 2") == .bool(true))
        #expect(throws: CELError.self) { try evaluate("1 + 1u") }
        #expect(throws: CELError.self) { try evaluate("9223372036854775807 + 1") }
    }

    @Test func largeMapsUseTheIndexConsistently() throws {
        let entries = (0..<100).map { (key: CELValue.int(Int64($0)), value: CELValue.string("v\($0)")) }
        let map = CELMap(entries)
        #expect(map[.uint(42)] == .string("v42"))
        #expect(map[.double(7)] == .string("v7"))
        #expect(map[.double(7.5)] == nil)
        #expect(try evaluate("m[99] + m[0u]", ["m": .map(map)]) == .string("v99v0"))
    }

    @Test(arguments: [
        ("1e6", "1e+06"), ("123456.0", "123456"), ("0.0001", "0.0001"), ("0.00001", "1e-05"), ("49.0", "49"),
        ("-4.5e-3", "-0.0045"), ("0.1 + 0.2", "0.30000000000000004"), ("1234567.0", "1.234567e+06"),
    ])
    func doublesPrintLikeCELGo(_ source: String, _ expected: String) throws {
        #expect(try evaluate("string(\(source))") == .string(expected))
    }

    @Test func largeExpressionsCompile() throws {
        let source = "size([" + Array(repeating: "1", count: 45_000).joined(separator: ",") + "])"
        #expect(try evaluate(source) == .int(45_000))
    }

    @Test func timeZones() throws {
        #expect(try evaluate("timestamp('2009-02-13T23:31:30Z').getHours('Europe/Berlin')") == .int(0))
        #expect(try evaluate("timestamp('2009-02-13T23:31:30Z').getHours('+05:30')") == .int(5))
        #expect(throws: CELError.self) { try evaluate("timestamp('2009-02-13T23:31:30Z').getHours('Mars/Base')") }
    }

    @Test func typedJSONRoundTrip() throws {
        let values: [CELValue] = [
            .null, .bool(true), .int(-5), .uint(7), .double(1.5), .double(.infinity), .string("é\n"),
            .bytes([0, 255]), .list([.int(1)]), .map(CELMap([(.int(1), .string("a"))])),
            .timestamp(CELTimestamp(seconds: 1_234_567_890, nanos: 5)), .duration(CELDuration(seconds: -1, nanos: -5)),
            .type(CELType(name: "int")),
        ]
        for value in values {
            let decoded = try CELValue(typedJSONText: value.typedJSONText)
            #expect(decoded.conformanceEquals(value), "\(value.typedJSONText)")
            #expect(try CELValue(typedJSON: value.typedJSON).conformanceEquals(value))
        }
        #expect(CELValue.int(1).typedJSONText == #"{"int":"1"}"#)
        #expect(CELValue.double(.nan).typedJSONText == #"{"double":"NaN"}"#)
    }
}
