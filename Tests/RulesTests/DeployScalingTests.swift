import Foundation
import Testing
import Yams

/// KEDA scales on the lag of the source topics only: the retry tiers' records wait for their delay on purpose, and
/// counting them would add replicas that cannot deliver them any sooner.
@Suite("deploy/kubernetes scaling")
struct DeployScalingTests {
    @Test("the ScaledObject has one kafka trigger per source topic of relay.yaml, for the relay's group, and no other")
    func triggersCountSourceTopicsOnly() throws {
        let loaded = try DeployConfigTests.load(DeployConfigTests.kubernetes + "/overlays/production")
        let kafka = loaded.configuration.kafka
        let text = try String(
            contentsOfFile: DeployConfigTests.kubernetes + "/overlays/production/scaledobject.yaml", encoding: .utf8)
        let documents = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
        let scaledObject = try #require(documents.first { $0["kind"] as? String == "ScaledObject" })
        let spec = try #require(scaledObject["spec"] as? [String: Any])
        let triggers = try #require(spec["triggers"] as? [[String: Any]])
        var topics: [String] = []
        for trigger in triggers {
            #expect(trigger["type"] as? String == "kafka")
            let metadata = try #require(trigger["metadata"] as? [String: Any])
            #expect(metadata["consumerGroup"] as? String == kafka.groupID)
            // A trigger without `topic` counts every topic the group commits, the retry tiers included.
            let topic = try #require(metadata["topic"] as? String, "a kafka trigger without topic: \(metadata)")
            topics.append(topic)
        }
        #expect(topics.sorted() == kafka.topics.sorted())
        #expect(!topics.contains { $0.contains(".retry.") || $0.hasSuffix(".dlq") })
    }
}
