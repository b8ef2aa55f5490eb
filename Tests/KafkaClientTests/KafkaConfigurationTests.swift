import KafkaClient
import Testing

@Suite struct KafkaConfigurationTests {
    @Test func librdkafkaVersionStringMatchesItsNumber() {
        let version = KafkaClient.librdkafkaVersion
        let major = (version.number >> 24) & 0xff
        let minor = (version.number >> 16) & 0xff
        #expect(version.string.hasPrefix("\(major).\(minor)."))
        #expect(LibrdkafkaVersion.minimumRecommended.string == "2.2.0")
    }

    @Test func rejectedPropertyNamesTheKey() {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: ["localhost:1"], groupID: "g", topics: ["t"])
        configuration.properties["no.such.property"] = "1"
        let error = #expect(throws: KafkaError.self) {
            _ = try KafkaConsumer(configuration: configuration, logger: testLogger)
        }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("no.such.property") == true)
    }

    @Test func consumerWithoutTopicsIsAConfigurationError() {
        let configuration = KafkaConsumerConfiguration(bootstrapServers: ["localhost:1"], groupID: "lonely")
        let error = #expect(throws: KafkaError.self) {
            _ = try KafkaConsumer(configuration: configuration, logger: testLogger)
        }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("lonely") == true)
    }
}

/// A rejected property never crashes a client's init, and can be checked before any client exists.
@Suite struct KafkaClientPropertiesTests {
    @Test("an admin client whose property is rejected throws instead of crashing in deinit")
    func adminWithRejectedProperty() {
        let error = #expect(throws: KafkaError.self) {
            _ = try KafkaAdmin(bootstrapServers: ["localhost:1"], properties: ["sasl.pasword": "x"], logger: testLogger)
        }
        #expect(error?.code == .configuration)
        #expect(error?.description.contains("sasl.pasword") == true)
        #expect(error?.description.contains("KafkaError") == false)
    }

    @Test("unknown names and invalid values are told apart; librdkafka's names are listed")
    func rejection() throws {
        let unknown = try #require(KafkaClientProperties.rejection("sasl.pasword", "x"))
        #expect(unknown.isUnknownProperty)
        let invalid = try #require(KafkaClientProperties.rejection("security.protocol", "SASL_SSLL"))
        #expect(!invalid.isUnknownProperty)
        #expect(invalid.reason.contains("SASL_SSLL"))
        #expect(KafkaClientProperties.rejection("sasl.password", "x") == nil)
        #expect(KafkaClientProperties.names.contains("sasl.password"))
        #expect(KafkaClientProperties.names.contains("bootstrap.servers"))
    }

    @Test("client creation catches what single properties cannot")
    func clientProblem() {
        let plain = [("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanisms", "PLAIN")]
        #expect(KafkaClientProperties.clientProblem(plain + [("sasl.username", "u"), ("sasl.password", "p")]) == nil)
        #expect(KafkaClientProperties.clientProblem(plain) == "sasl.username and sasl.password must be set")
        let tls = [("security.protocol", "SSL"), ("ssl.ca.location", "/nonexistent")]
        #expect(KafkaClientProperties.clientProblem(tls)?.contains("ssl.ca.location") == true)
    }

    /// An older librdkafka (Debian's 2.0.2) does not know the consumer's tuning defaults: `config check` must pass
    /// there as the relay runs there (skipping them), not blame the user's client_properties for a default.
    @Test("a consumer tuning default the loaded librdkafka does not know is skipped, not reported")
    func unknownTuningDefault() {
        let producer = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:9092"])
        var consumer = KafkaConsumerConfiguration(bootstrapServers: ["127.0.0.1:9092"], groupID: "g", topics: ["t"])
        let unknown = [("no.such.tuning.default.ms", "20")]
        #expect(
            KafkaClientProperties.clientProblem(producer: producer, consumer: consumer, optionalDefaults: unknown)
                == nil)
        // The user's own properties are checked as before.
        consumer.properties = ["no.such.user.property": "1"]
        let problem = KafkaClientProperties.clientProblem(
            producer: producer, consumer: consumer, optionalDefaults: unknown)
        #expect(problem?.contains("no.such.user.property") == true)
    }
}
