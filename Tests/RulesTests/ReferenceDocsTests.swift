import Foundation
import RelayConfig
import Testing

@testable import CEL
@testable import Rules

/// docs/ is the reference users have: it must name every key the loader accepts, and nothing a user reads may
/// point outside the repository.
@Suite("reference docs")
struct ReferenceDocsTests {
    static func read(_ relativePath: String) throws -> String {
        try String(contentsOfFile: repositoryRoot + "/" + relativePath, encoding: .utf8)
    }

    @Test("docs/configuration.md describes every key relay.yaml accepts")
    func everyKeyIsDocumented() throws {
        let documentation = try Self.read("docs/configuration.md")
        let keys = RelayConfigLoader.knownKeys
        #expect(keys.contains("kafka.commit_interval"))
        #expect(keys.contains("retry.tiers.delay"))
        let missing = keys.filter { !documentation.contains("`\($0)`") }
        #expect(missing.isEmpty, "docs/configuration.md does not describe: \(missing.joined(separator: ", "))")
    }

    @Test(
        "README, examples and deploy link the docs, never files outside the repository",
        arguments: ["README.md", "examples/README.md", "examples/relay.yaml", "deploy/kubernetes/base/relay.yaml"]
    )
    func noLinkOutOfTheRepository(file: String) throws {
        let text = try Self.read(file)
        for outside in ["../shared", "SPEC.md", "AFFONSO_API.md"] {
            #expect(!text.contains(outside), "\(file) refers to \(outside)")
        }
    }

    @Test("README keeps its two set-up commands and links the references")
    func readmeLinksTheReferences() throws {
        let readme = try Self.read("README.md")
        #expect(readme.contains("make demo"))
        #expect(readme.contains("make test"))
        for page in ["docs/configuration.md", "docs/rules.md", "docs/affonso.md", "docs/stripe.md"] {
            #expect(readme.contains("(\(page))"), "README.md does not link \(page)")
            #expect(FileManager.default.fileExists(atPath: repositoryRoot + "/" + page))
        }
    }
}

/// The reference lists what the code supports: every CEL function and every Affonso event field.
@Suite("reference docs stay true")
struct ReferenceDocsCoverageTests {
    @Test("docs/rules.md names every CEL function the evaluator has")
    func everyCELFunction() throws {
        let documentation = try ReferenceDocsTests.read("docs/rules.md")
        let names = Set(
            (Array(Functions.global.keys) + Array(Functions.member.keys)).compactMap { key -> String? in
                let name = String(key.split(separator: "/").first ?? "")
                return name.hasPrefix("_") || name.hasPrefix("@") ? nil : name
            })
        #expect(names.contains("upperAscii"))
        let missing = names.filter { !documentation.contains($0) }.sorted()
        #expect(missing.isEmpty, "docs/rules.md does not mention: \(missing.joined(separator: ", "))")
    }

    @Test("docs/affonso.md describes every event field a rule may set")
    func everyEventField() throws {
        let documentation = try ReferenceDocsTests.read("docs/affonso.md")
        let missing = EventValidator.fields.filter { !documentation.contains("| `\($0)` |") }
        #expect(!EventValidator.fields.isEmpty)
        #expect(missing.isEmpty, "docs/affonso.md does not describe: \(missing.joined(separator: ", "))")
    }
}

/// docs/stripe.md's checkout rule, beside examples/rules/stripe.yaml, is what the guide says it is.
@Suite("docs/stripe.md")
struct StripeGuideTests {
    /// The YAML block of docs/stripe.md that defines `stripe-checkout-payment`.
    static func checkoutRule() throws -> String {
        let guide = try ReferenceDocsTests.read("docs/stripe.md")
        let blocks = guide.components(separatedBy: "```yaml\n").dropFirst().map {
            $0.components(separatedBy: "```").first ?? ""
        }
        return try #require(blocks.first { $0.contains("name: stripe-checkout-payment") })
    }

    static func load(_ extra: String) throws -> RelayConfigLoader.Loaded {
        let stripe = try ReferenceDocsTests.read("examples/rules/stripe.yaml")
        return try RelayConfigLoader.load(
            text: stripe + "\n" + extra, file: repositoryRoot + "/examples/rules/stripe-guide.yaml",
            environment: [:], purpose: .rules)
    }

    @Test("the guide's checkout rule compiles beside stripe.yaml without a warning")
    func checkoutRuleIsClean() throws {
        let loaded = try Self.load(try Self.checkoutRule())
        #expect(loaded.ruleSet.ruleNames.contains("stripe-checkout-payment"))
        #expect(loaded.warnings.map(\.message) == [])
    }

    @Test("without its mode test, the checkout rule gets the double-counting warning the guide shows")
    func checkoutRuleWithoutModeWarns() throws {
        let rule = try Self.checkoutRule().replacingOccurrences(
            of: "payload.data.object.mode == 'payment'", with: "true")
        let loaded = try Self.load(rule)
        let messages = loaded.warnings.map(\.message)
        #expect(messages.count == 1)
        let guide = try ReferenceDocsTests.read("docs/stripe.md")
        for message in messages {
            #expect(message.hasPrefix("rules 'stripe-checkout-payment' (checkout.session.completed) and "))
            // The guide quotes the message (with other rule names).
            let tail = message.components(separatedBy: "(invoice.paid) ").last ?? ""
            #expect(guide.contains(tail), "docs/stripe.md does not show: \(tail)")
        }
    }
}
