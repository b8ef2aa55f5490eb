import Foundation
import RelayConfig
import Testing

/// `${VAR}`, `${VAR:-default}`, `${VAR:?message}` and `${file:PATH}` in any value.
@Suite("environment and file expansion")
struct ExpansionTests {
    func load(_ groupID: String, environment: [String: String]) throws(ConfigError) -> String {
        let text = """
            kafka:
              group_id: \(groupID)
            affonso: {api_key: k}
            rules: [{name: r, topics: [t], event: {event_name: "'x'", customer_id: "payload.c"}}]
            """
        return try RelayConfigLoader.load(text: text, file: "/tmp/relay.yaml", environment: environment)
            .configuration.kafka.groupID
    }

    func error(_ groupID: String, environment: [String: String] = [:]) -> String? {
        do {
            _ = try load(groupID, environment: environment)
            return nil
        } catch {
            return error.errors.first?.description
        }
    }

    @Test("${VAR:-default} takes the default when the variable is unset or empty")
    func defaultValue() throws {
        #expect(try load("${GROUP:-relay-dev}", environment: [:]) == "relay-dev")
        #expect(try load("${GROUP:-relay-dev}", environment: ["GROUP": ""]) == "relay-dev")
        #expect(try load("${GROUP:-relay-dev}", environment: ["GROUP": "prod"]) == "prod")
        #expect(try load("pre-${GROUP:-x}-post", environment: [:]) == "pre-x-post")
    }

    @Test("${VAR:?message} fails with the message at the reference")
    func requiredWithMessage() throws {
        #expect(
            error("${GROUP:?set GROUP to the consumer group}")
                == "/tmp/relay.yaml:2:13: environment variable 'GROUP' is not set: set GROUP to the consumer group")
        #expect(try load("${GROUP:?x}", environment: ["GROUP": "g"]) == "g")
    }

    @Test("${file:PATH} reads a file without its trailing newline; relative to the config's directory")
    func fromFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "expansion-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let secret = directory.appendingPathComponent("group").path
        try "from-a-file\n".write(toFile: secret, atomically: true, encoding: .utf8)
        #expect(try load("${file:\(secret)}", environment: [:]) == "from-a-file")
        let text = """
            kafka: {group_id: "${file:group}"}
            affonso: {api_key: k}
            rules: [{name: r, topics: [t], event: {event_name: "'x'", customer_id: "payload.c"}}]
            """
        let config = directory.appendingPathComponent("relay.yaml").path
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try RelayConfigLoader.load(path: config, environment: [:]).configuration.kafka.groupID == "from-a-file")
        #expect(
            error("${file:/nonexistent/secret}")?.hasPrefix(
                "/tmp/relay.yaml:2:13: cannot read the file '/nonexistent/secret'") == true)
    }

    @Test("dlq inspect and topics ensure need no API key, but the other variables")
    func kafkaPurpose() throws {
        let text = """
            kafka: {brokers: ["${BROKERS}"]}
            affonso: {api_key: "${AFFONSO_API_KEY}", base_url: "${AFFONSO_URL}"}
            rules: [{name: r, topics: [t], event: {event_name: "'x'", customer_id: "payload.c"}}]
            """
        let loaded = try RelayConfigLoader.load(
            text: text, file: "relay.yaml", environment: ["BROKERS": "b:9092"], purpose: .kafka)
        let service = try loaded.configuration.serviceConfiguration(file: "relay.yaml", requiresAPIKey: false)
        #expect(service.consumer.bootstrapServers == ["b:9092"])
        #expect(throws: ConfigError.self) {
            _ = try RelayConfigLoader.load(text: text, file: "relay.yaml", environment: [:], purpose: .kafka)
        }
    }
}
