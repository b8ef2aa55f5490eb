import Foundation
import Logging
import Relay
import RelayConfig
import Synchronization
import Testing

/// `sasl.*` and `ssl.key.*` values of `kafka.client_properties`, and the keys the Affonso client reads, never
/// appear in a log line, an error message or a retry header.
@Suite("Credentials are scrubbed")
struct CredentialScrubbingTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: String { lines.withLock { $0.joined() } }
    }

    static func logger() -> (Logger, Lines) {
        let lines = Lines()
        let output = LogOutput { line in lines.lines.withLock { $0.append(line) } }
        return (Logger(label: "test") { label in JSONLogHandler(label: label, level: .trace, output: output) }, lines)
    }

    static let properties = [
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc-relay-user-q7",
        "sasl.password": "pw-Zx81!kafka",
        "sasl.oauthbearer.client.secret": "oauth-secret-4471",
        "ssl.key.password": "keypass-0193",
        "ssl.key.pem": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----",
    ]
    static let secrets = ["pw-Zx81!kafka", "oauth-secret-4471", "keypass-0193", properties["ssl.key.pem"]!]

    @Test("sasl.* and ssl.key.* values of client_properties leave no trace in logs, errors or retry headers")
    func clientProperties() throws {
        var configuration = RelayConfiguration()
        configuration.affonso.apiKey = "inline-key-for-scrub-test"
        configuration.kafka.clientProperties = Self.properties
        let service = try configuration.serviceConfiguration(file: "relay.yaml")
        #expect(service.consumer.properties["sasl.password"] == "pw-Zx81!kafka", "passed to librdkafka verbatim")

        let (logger, lines) = Self.logger()
        for secret in Self.secrets + ["inline-key-for-scrub-test"] {
            logger.error("kafka said: authentication failed for \(secret)", metadata: ["detail": "\(secret)"])
        }
        let secretProperties = service.consumer.properties.filter { SecretScrubber.isCredentialProperty($0.key) }
        logger.info("properties", metadata: ["all": "\(secretProperties)"])
        for secret in Self.secrets + ["inline-key-for-scrub-test"] {
            #expect(!lines.all.contains(secret), "\(secret) reached a log line")
            let envelope = RetryEnvelope(
                attempt: 1, rule: "r",
                original: RecordCoordinates(partitionID: PartitionID(topic: "t", partition: 0), offset: 1),
                originalTimestamp: nil, errorClass: .connection, errorMessage: "could not connect: \(secret)",
                errorStatus: nil, firstFailureAt: Date(), notBefore: Date())
            #expect(!envelope.errorMessage.contains(secret))
            #expect(
                !envelope.headers(keeping: []).contains {
                    String(decoding: $0.value ?? [], as: UTF8.self).contains(secret)
                })
        }
        #expect(!lines.all.contains("MIIEvQIBADAN"), "a PEM key's lines are secrets too")
        #expect(SecretScrubber.scrub("mechanism SCRAM-SHA-512") == "mechanism SCRAM-SHA-512", "not a secret")
        #expect(
            !SecretScrubber.registeredSecrets.contains("svc-relay-user-q7"), "a user name is not scrubbed everywhere")
    }

    @Test("which properties count as credentials")
    func credentialProperties() {
        for name in [
            "sasl.password", "SASL.PASSWORD", "sasl.oauthbearer.config", "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.assertion.private.key.passphrase", "ssl.key.pem", "ssl.key.password",
            "ssl.keystore.password",
        ] {
            #expect(SecretScrubber.isCredentialProperty(name), "\(name)")
        }
        for name in [
            "sasl.username", "sasl.mechanism", "sasl.mechanisms", "sasl.kerberos.service.name", "ssl.ca.location",
            "bootstrap.servers", "security.protocol",
        ] {
            #expect(!SecretScrubber.isCredentialProperty(name), "\(name)")
        }
    }
}
