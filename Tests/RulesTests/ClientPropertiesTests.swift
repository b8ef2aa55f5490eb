import Foundation
import RelayConfig
import Testing

/// `kafka.client_properties` is checked by librdkafka when the configuration is loaded, and every error names
/// the property, its place and what to do.
@Suite("kafka.client_properties validation")
struct ClientPropertiesTests {
    func errors(_ properties: String, purpose: RelayConfigLoader.Purpose = .service) -> [String] {
        let text = """
            kafka:
              client_properties:
            \(properties)
            affonso:
              api_key: k
            rules:
              - name: r
                topics: [t]
                event: {event_name: "'x'", customer_id: "payload.c"}
            """
        do {
            _ = try RelayConfigLoader.load(text: text, file: "relay.yaml", environment: [:], purpose: purpose)
            return []
        } catch {
            #expect(!error.isAboutRulesOnly)
            return error.errors.map(\.description)
        }
    }

    @Test("a misspelt property is an error at its key with a did-you-mean")
    func unknownProperty() {
        #expect(
            errors("    sasl.pasword: hunter2")
                == [
                    "relay.yaml:3:5: kafka.client_properties: librdkafka has no property 'sasl.pasword'; did you "
                        + "mean 'sasl.password'?"
                ])
    }

    @Test("a rejected value is an error at the value, naming property and value")
    func invalidValue() throws {
        let found = errors("    security.protocol: SASL_SSLL")
        #expect(found.count == 1)
        let line = try #require(found.first)
        #expect(line.hasPrefix("relay.yaml:3:24: kafka.client_properties.security.protocol: librdkafka rejected "))
        #expect(line.contains("'SASL_SSLL'"))
    }

    @Test("rules check reports the same errors", arguments: [RelayConfigLoader.Purpose.rules, .kafka])
    func everyPurpose(purpose: RelayConfigLoader.Purpose) {
        #expect(errors("    sasl.pasword: x", purpose: purpose).count == 1)
    }

    @Test("a valid set of properties loads")
    func valid() throws {
        let text = """
            kafka:
              client_properties:
                security.protocol: SASL_PLAINTEXT
                sasl.mechanisms: PLAIN
                sasl.username: relay
                sasl.password: secret
                session.timeout.ms: "30000"
            affonso: {api_key: k}
            rules: [{name: r, topics: [t], event: {event_name: "'x'", customer_id: "payload.c"}}]
            """
        let loaded = try RelayConfigLoader.load(text: text, file: "relay.yaml", environment: [:])
        #expect(loaded.configuration.kafka.clientProperties["sasl.mechanisms"] == "PLAIN")
    }

    @Test("a combination librdkafka refuses when it creates the client is a runtime check at the section")
    func clientCreation() throws {
        let text = """
            kafka:
              client_properties:
                security.protocol: SSL
                ssl.ca.location: /nonexistent/ca.pem
            affonso: {api_key_file: /nonexistent/key}
            rules: [{name: r, topics: [t], event: {event_name: "'x'", customer_id: "payload.c"}}]
            """
        let loaded = try RelayConfigLoader.load(text: text, file: "relay.yaml", environment: [:])
        let problems = RelayConfigLoader.checkRuntime(loaded, file: "relay.yaml").map(\.description)
        #expect(problems.count == 2)
        #expect(problems.first?.hasPrefix("relay.yaml:3:5: kafka.client_properties: librdkafka cannot create") == true)
        #expect(
            problems.last?.hasPrefix("relay.yaml:5:25: affonso.api_key_file '/nonexistent/key' cannot be read") == true)
        #expect(RelayConfigLoader.checkRuntime(loaded, file: "relay.yaml", requiresAPIKey: false).count == 1)
    }
}
