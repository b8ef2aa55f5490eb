import Foundation
import HTTPTypes
import Synchronization
import Testing

@testable import AffonsoAPI

/// The client tells its observer every key it reads, the rotated one too, before sending it: the relay adds them
/// to its secret scrubber.
@Suite("Key observer")
struct KeyObserverTests {
    final class Seen: Sendable {
        let keys = Mutex<[String]>([])
    }

    @Test("the key file's key and the key it is rotated to both reach the observer")
    func rotation() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("key-observer-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("api-key")
        try "aff_first_rotating_key_1\n".write(to: file, atomically: true, encoding: .utf8)

        var reply = StubServer.Reply()
        reply.status = .unauthorized
        reply.body = #"{"success":false,"error":{"code":"INVALID_API_KEY","message":"no"}}"#
        let server = StubServer(reply: reply)
        let seen = Seen()
        try await server.withRunning { port in
            var configuration = AffonsoClientConfiguration(credentials: .apiKeyFile(file.path))
            configuration.baseURL = "http://127.0.0.1:\(port)/"
            configuration.plan = .unlimited
            let client = try AffonsoClient(configuration: configuration) { key in
                seen.keys.withLock { $0.append(key) }
            }
            #expect(seen.keys.withLock { $0 } == ["aff_first_rotating_key_1"], "observed before any request")
            try "aff_second_rotating_key_2".write(to: file, atomically: true, encoding: .utf8)
            let outcome = try await client.send(AffonsoClientStubTests.event)
            #expect(outcome.errorClass == .credentials)
            try await client.shutdown()
        }
        let keys = seen.keys.withLock { $0 }
        #expect(keys.first == "aff_first_rotating_key_1")
        #expect(keys.contains("aff_second_rotating_key_2"))
        // Sent with the second key only after it was observed.
        let authorizations = server.requests.compactMap { $0[.authorization] }
        #expect(authorizations == ["Bearer aff_first_rotating_key_1", "Bearer aff_second_rotating_key_2"])
    }
}
