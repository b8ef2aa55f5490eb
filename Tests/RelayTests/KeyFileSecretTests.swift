import AffonsoAPI
import Foundation
import Logging
import Testing

@testable import Relay

/// The relay wires the Affonso client's key observer to the secret scrubber: the key read from
/// `api_key_file` is scrubbed exactly, not only when it happens to look like `sk_live_…`.
@Suite("Key file secrets")
struct KeyFileSecretTests {
    @Test("the key read from api_key_file is in the scrubber's list: logs and retry headers never show it")
    func keyFileRegistered() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("key-file-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("api-key")
        let key = "aff_filekey_\(UInt64.random(in: 1 ... .max))"
        try key.write(to: file, atomically: true, encoding: .utf8)
        #expect(SecretScrubber.scrub("echo \(key)").contains(key), "no pattern catches this key")

        var affonso = AffonsoClientConfiguration(credentials: .apiKeyFile(file.path))
        affonso.baseURL = "http://127.0.0.1:1"
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let client = try RelayService.makeClient(affonso, logger: logger)
        try await client.shutdown()

        #expect(SecretScrubber.registeredSecrets.contains(key))
        #expect(SecretScrubber.scrub("Affonso echoed \(key) back") == "Affonso echoed [redacted] back")
        let envelope = RetryEnvelope(
            attempt: 1, rule: "r",
            original: RecordCoordinates(partitionID: PartitionID(topic: "t", partition: 0), offset: 1),
            originalTimestamp: nil, errorClass: .clientError, errorMessage: "rejected \(key)", errorStatus: 400,
            firstFailureAt: Date(), notBefore: Date())
        #expect(!envelope.errorMessage.contains(key))
    }

    @Test(
        "registered secrets: empty and very short ones ignored, a longer secret containing a shorter one is removed whole"
    )
    func registry() {
        SecretScrubber.register("")
        SecretScrubber.register("abc")
        #expect(SecretScrubber.scrub("abc") == "abc")
        SecretScrubber.register("reg_short_77x")
        SecretScrubber.register("reg_short_77x_and_longer")
        #expect(SecretScrubber.scrub("a reg_short_77x_and_longer b reg_short_77x") == "a [redacted] b [redacted]")
        #expect(!SecretScrubber.registeredSecrets.contains(""))
    }
}
