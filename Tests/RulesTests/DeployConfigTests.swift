import Foundation
import RelayConfig
import Rules
import Testing

/// The relay.yaml files shipped in deploy/kubernetes load as the pod would load them: with the ConfigMap's files
/// where the Deployment mounts them (/etc/affonso-relay) and the Secret-provided environment set.
@Suite("deploy/kubernetes configuration")
struct DeployConfigTests {
    static let kubernetes = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/kubernetes").path

    static func load(_ directory: String) throws -> RelayConfigLoader.Loaded {
        let text = try String(contentsOfFile: directory + "/relay.yaml", encoding: .utf8)
            .replacingOccurrences(of: "/etc/affonso-relay/", with: directory + "/")
        return try RelayConfigLoader.load(
            text: text, file: directory + "/relay.yaml", environment: ["KAFKA_SASL_PASSWORD": "secret"])
    }

    @Test func productionOverlayLoadsItsMountedRuleFiles() throws {
        let loaded = try Self.load(Self.kubernetes + "/overlays/production")
        #expect(loaded.ruleSet.ruleNames.contains("stripe-invoice-paid"))
        #expect(!loaded.ruleSet.ruleNames.isEmpty)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings.map(\.description))")
        _ = try loaded.configuration.serviceConfiguration(file: "relay.yaml")
    }

    @Test func baseLoads() throws {
        let loaded = try Self.load(Self.kubernetes + "/base")
        _ = try loaded.configuration.serviceConfiguration(file: "relay.yaml")
    }

    /// A pod has the rule files but not the fixtures their examples read: the relay starts, `rules test` does not.
    @Test func examplesWithoutTheirFixtureFilesDoNotStopTheRelay() throws {
        let text = """
            affonso: {api_key: k}
            rules:
              - name: r
                topics: [t]
                event: {event_name: "'x'", customer_id: "payload.c"}
                examples:
                  - name: fixture
                    record: {value_file: fixtures/missing.json}
                    expect: {events: []}
            kafka: {topics: [t]}
            """
        let loaded = try RelayConfigLoader.load(text: text, file: "/nowhere/relay.yaml", environment: [:])
        #expect(loaded.ruleSet.ruleNames == ["r"])
        #expect(throws: ConfigError.self) {
            try RelayConfigLoader.load(text: text, file: "/nowhere/relay.yaml", environment: [:], purpose: .rules)
        }
    }
}
