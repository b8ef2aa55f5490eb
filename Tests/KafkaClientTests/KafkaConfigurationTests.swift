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
