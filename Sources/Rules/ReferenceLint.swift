import CEL

/// Finds references to names a rule expression cannot see, before anything runs.
///
/// Rules see `payload`, `record`, `ce` and `variables`; everything else at the root of a member chain is a
/// mistake. The classic one is an unquoted string (`event_name: invoice_paid`), which gets a hint.
enum ReferenceLint {
    struct Problem {
        var message: String
        var position: CELSourcePosition
    }

    static let roots: Set<String> = ["payload", "record", "ce", "variables"]
    static let builtins: Set<String> = [
        "true", "false", "null", "int", "uint", "double", "string", "bytes", "bool", "list", "map", "type", "dyn",
        "null_type", "optional", "math", "cel", "strings", "google", "in",
    ]
    static let binders: Set<String> = [
        "all", "exists", "exists_one", "existsOne", "map", "filter", "transformList", "transformMap",
        "transformMapEntry", "bind", "sortBy",
    ]

    private struct Token {
        enum Kind { case identifier, string, number, symbol }
        var kind: Kind
        var text: String
        var offset: Int
        var line: Int
        var column: Int
    }

    static func problems(in source: String, variables: [String]) -> [Problem] {
        let tokens = tokenize(source)
        var bound = Set<String>()
        // Names bound by macros: `.all(x, …)`, `.map(k, v, …)`, `cel.bind(x, …)`.
        for index in tokens.indices where tokens[index].kind == .identifier && binders.contains(tokens[index].text) {
            var cursor = index + 1
            guard cursor < tokens.count, tokens[cursor].text == "(" else { continue }
            cursor += 1
            while cursor + 1 < tokens.count, tokens[cursor].kind == .identifier, tokens[cursor + 1].text == "," {
                bound.insert(tokens[cursor].text)
                cursor += 2
            }
        }
        var problems: [Problem] = []
        for (index, token) in tokens.enumerated() where token.kind == .identifier {
            let previous = index > 0 ? tokens[index - 1].text : ""
            let next = index + 1 < tokens.count ? tokens[index + 1].text : ""
            if previous == "." || previous == ".?" || next == "(" { continue }
            let name = token.text
            if roots.contains(name) || builtins.contains(name) || bound.contains(name) { continue }
            let position = CELSourcePosition(line: token.line, column: token.column, offset: token.offset)
            let message: String
            if variables.contains(name) {
                message = "undeclared reference '\(name)'; did you mean 'variables.\(name)'?"
            } else if tokens.count == 1 {
                message = "undeclared reference '\(name)'; did you mean the string '\(name)'?"
            } else {
                message =
                    "undeclared reference '\(name)'; expressions see payload, record, ce and variables"
                    + " (quote it if it is a string: '\(name)')"
            }
            problems.append(Problem(message: message, position: position))
        }
        return problems
    }

    /// Where `variables.X` may be read: the match runs before any variable, a variable sees the ones above it.
    enum Scope {
        case match
        case variable(Int)
        case event
    }

    /// `variables.X` references to names the rule does not declare, or declares only later.
    static func variableProblems(in source: String, declared: [String], scope: Scope) -> [Problem] {
        let tokens = tokenize(source)
        var problems: [Problem] = []
        for (index, token) in tokens.enumerated() where token.kind == .identifier && token.text == "variables" {
            guard index + 2 < tokens.count,
                index == 0 || (tokens[index - 1].text != "." && tokens[index - 1].text != ".?"),
                tokens[index + 1].text == "." || tokens[index + 1].text == ".?",
                tokens[index + 2].kind == .identifier
            else { continue }
            let nameToken = tokens[index + 2]
            let name = nameToken.text
            let position = CELSourcePosition(line: token.line, column: token.column, offset: token.offset)
            let message: String
            if let declaredIndex = declared.firstIndex(of: name) {
                switch scope {
                case .event: continue
                case .variable(let current) where declaredIndex < current: continue
                case .variable(let current) where declaredIndex == current:
                    message = "variables.\(name) refers to itself; a variable sees only the variables above it"
                case .variable:
                    message =
                        "variables.\(name) is declared below this variable; variables are evaluated in order, "
                        + "so move '\(name)' above it"
                case .match:
                    message =
                        "variables.\(name) is not available in match, which runs before the variables; "
                        + "test the value itself (e.g. payload.…)"
                }
            } else if let suggestion = Suggestion.closest(to: name, in: declared) {
                message = "variables.\(name) is not declared; did you mean 'variables.\(suggestion)'?"
            } else if declared.isEmpty {
                message = "variables.\(name) is not declared; the rule has no variables (declare it under variables:)"
            } else {
                message =
                    "variables.\(name) is not declared; the rule declares "
                    + declared.map { "variables.\($0)" }.joined(separator: ", ")
            }
            problems.append(Problem(message: message, position: position))
        }
        return problems
    }

    private static func tokenize(_ source: String) -> [Token] {
        let scalars = Array(source.unicodeScalars)
        var tokens: [Token] = []
        var i = 0
        var line = 1
        var column = 1
        var offset = 0
        func advance(_ count: Int = 1) {
            for _ in 0..<count where i < scalars.count {
                offset += String(scalars[i]).utf8.count
                if scalars[i] == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
                i += 1
            }
        }
        func isIdentifierStart(_ s: Unicode.Scalar) -> Bool { s == "_" || (s.isASCII && s.properties.isAlphabetic) }
        func isIdentifierPart(_ s: Unicode.Scalar) -> Bool {
            isIdentifierStart(s) || ("0"..."9").contains(s)
        }
        while i < scalars.count {
            let s = scalars[i]
            let start = (offset, line, column)
            if s == " " || s == "\t" || s == "\n" || s == "\r" {
                advance()
                continue
            }
            if s == "/" && i + 1 < scalars.count && scalars[i + 1] == "/" {
                while i < scalars.count && scalars[i] != "\n" { advance() }
                continue
            }
            // String and bytes literals, with optional r/b prefixes and triple quotes.
            var prefix = 0
            while i + prefix < scalars.count, prefix < 2, "rRbB".unicodeScalars.contains(scalars[i + prefix]) {
                prefix += 1
            }
            if i + prefix < scalars.count, scalars[i + prefix] == "'" || scalars[i + prefix] == "\"",
                prefix == 0 || !(i > 0 && isIdentifierPart(scalars[i - 1]))
            {
                let isRaw = scalars[i..<(i + prefix)].contains { $0 == "r" || $0 == "R" }
                advance(prefix)
                let quote = scalars[i]
                let triple = i + 2 < scalars.count && scalars[i + 1] == quote && scalars[i + 2] == quote
                advance(triple ? 3 : 1)
                while i < scalars.count {
                    if scalars[i] == "\\" && !isRaw {
                        advance(2)
                        continue
                    }
                    if scalars[i] == quote {
                        if !triple {
                            advance()
                            break
                        }
                        if i + 2 < scalars.count && scalars[i + 1] == quote && scalars[i + 2] == quote {
                            advance(3)
                            break
                        }
                    }
                    advance()
                }
                tokens.append(Token(kind: .string, text: "", offset: start.0, line: start.1, column: start.2))
                continue
            }
            if isIdentifierStart(s) {
                var text = ""
                while i < scalars.count && isIdentifierPart(scalars[i]) {
                    text.unicodeScalars.append(scalars[i])
                    advance()
                }
                tokens.append(Token(kind: .identifier, text: text, offset: start.0, line: start.1, column: start.2))
                continue
            }
            if ("0"..."9").contains(s) {
                while i < scalars.count && (isIdentifierPart(scalars[i]) || scalars[i] == ".") {
                    if scalars[i] == "." && !(i + 1 < scalars.count && ("0"..."9").contains(scalars[i + 1])) { break }
                    advance()
                }
                tokens.append(Token(kind: .number, text: "", offset: start.0, line: start.1, column: start.2))
                continue
            }
            var text = String(s)
            if s == "." && i + 1 < scalars.count && scalars[i + 1] == "?" {
                text = ".?"
                advance()
            }
            advance()
            tokens.append(Token(kind: .symbol, text: text, offset: start.0, line: start.1, column: start.2))
        }
        return tokens
    }
}
