import CEL
import SeededRandom
import Testing

/// Random strings and token soups must never crash the lexer, parser, compiler or evaluator.
@Suite struct CELFuzzTests {
    typealias Generator = SplitMix64

    static let tokens: [String] = [
        "(", ")", "[", "]", "{", "}", ".", ",", ":", "?", "?.", "[?", "+", "-", "*", "/", "%", "!", "==", "!=", "<",
        "<=", ">", ">=", "&&", "||", "in", "x", "y", "m", "l", "s", "1", "0", "-1", "9223372036854775807", "1u",
        "2.5", "1e308", "'a'", "\"b\"", "b'c'", "r'\\d'", "'''t'''", "true", "false", "null", "size", "has", "all",
        "exists", "exists_one", "map", "filter", "transformList", "transformMap", "cel.bind", "optional.of",
        "optional.none()", "orValue", "value", "hasValue", "timestamp", "duration", "'2024-01-01T00:00:00Z'",
        "'1h'", "int", "uint", "double", "string", "bytes", "dyn", "type", "matches", "'a+'", "format", "split",
        "substring", "math.greatest", "math.least", "math.abs", "getHours", "'Europe/Berlin'", "`k`", "if", "\\",
        "'", "\"", "#", "é", "😀", " ", "\n",
    ]

    static let activation = CELActivation([
        "x": .int(3),
        "y": .double(0.5),
        "s": .string("hello"),
        "l": .list([.int(1), .string("two"), .list([])]),
        "m": .map(CELMap([("k", .int(1)), ("n", .map(CELMap([("deep", .bool(true))])))])),
    ])

    /// Exercises `source`, then every 100th call lets the other tests' tasks run: 16 of these cases take seconds
    /// each, and on a 2-core machine they would hold Swift's shared task threads (one per core) for half a minute,
    /// stalling every async test that waits meanwhile.
    static func exercise(_ source: String, _ iteration: Int) async {
        exercise(source)
        if iteration % 100 == 99 { await Task.yield() }
    }

    static func exercise(_ source: String) {
        var environment = CELEnvironment()
        environment.limits.maximumCost = 10_000
        do {
            let program = try environment.compile(source)
            _ = try? program.evaluate(activation)
        } catch {
            #expect(!error.message.isEmpty)
        }
    }

    @Test(arguments: 0..<8)
    func tokenSoupNeverCrashes(_ seed: Int) async {
        var generator = Generator(seed: UInt64(seed) &* 7919)
        for iteration in 0..<3_000 {
            let count = Int.random(in: 1...24, using: &generator)
            var source = ""
            for _ in 0..<count {
                source += Self.tokens.randomElement(using: &generator)!
                if Bool.random(using: &generator) { source += " " }
            }
            await Self.exercise(source, iteration)
        }
    }

    @Test(arguments: 0..<4)
    func randomCharactersNeverCrash(_ seed: Int) async {
        var generator = Generator(seed: UInt64(seed) &+ 1_000_003)
        let alphabet = Array("abcxyz019_.,:;?!'\"`\\()[]{}<>=+-*/%&|^~#@$ \n\tuUeEbBrR") + ["é", "😀", "\u{0}"]
        for iteration in 0..<3_000 {
            let length = Int.random(in: 0...40, using: &generator)
            let source = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            await Self.exercise(source, iteration)
        }
    }

    @Test(arguments: 0..<4)
    func mutatedValidExpressionsNeverCrash(_ seed: Int) async {
        var generator = Generator(seed: UInt64(seed) &+ 42)
        let seeds = [
            "m.n.deep && x > 2 ? l.map(e, string(e)) : [s.upperAscii()]",
            "has(m.k) || l.exists(i, v, i == 1 && v == 'two')",
            "cel.bind(z, x * 2, [z, z + 1].filter(q, q % 2 == 0))",
            "m.?n.?deep.orValue(false) && optional.of(x).optMap(a, a + 1).value() == 4",
            "timestamp('2024-01-01T00:00:00Z') + duration('1h') > timestamp(0)",
            "'%s and %d'.format([s, x]) + string(y) + s.substring(1, 3).reverse()",
        ]
        for iteration in 0..<2_000 {
            var scalars = Array(seeds.randomElement(using: &generator)!.unicodeScalars)
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                guard !scalars.isEmpty else { break }
                let position = Int.random(in: 0..<scalars.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: scalars.remove(at: position)
                case 1: scalars.insert(scalars.randomElement(using: &generator)!, at: position)
                default: scalars.swapAt(position, Int.random(in: 0..<scalars.count, using: &generator))
                }
            }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            await Self.exercise(String(view), iteration)
        }
    }
}
