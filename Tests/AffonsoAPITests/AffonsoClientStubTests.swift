import Foundation
import HTTPTypes
import Hummingbird
import Testing

@testable import AffonsoAPI

/// The client against a stub server: the headers it sends and responses the sandbox never gives.
@Suite("AffonsoClient against a stub server")
struct AffonsoClientStubTests {
    static let key = "sk_test_stub_secret"

    static func withClient(
        _ reply: StubServer.Reply,
        _ body: (AffonsoClient, StubServer) async throws -> Void
    ) async throws {
        let server = StubServer(reply: reply)
        try await server.withRunning { port in
            var configuration = AffonsoClientConfiguration(credentials: .apiKey(key))
            configuration.baseURL = "http://127.0.0.1:\(port)/"
            configuration.plan = .unlimited
            let client = try AffonsoClient(configuration: configuration)
            do {
                try await body(client, server)
            } catch {
                try? await client.shutdown()
                throw error
            }
            try await client.shutdown()
        }
    }

    static let event: AffonsoEvent = {
        var event = AffonsoEvent(eventName: "signup", eventType: .lead)
        event.customerID = "cus_1"
        return event
    }()

    @Test("every request carries the bearer key, JSON content type and the relay's User-Agent")
    func requestHeaders() async throws {
        try await Self.withClient(StubServer.Reply()) { client, server in
            #expect(try await client.send(Self.event).isDelivered)
            let headers = try #require(server.requests.first)
            #expect(headers[.authorization] == "Bearer \(Self.key)")
            #expect(headers[.contentType] == "application/json")
            #expect(headers[.userAgent] == "affonso-relay/\(AffonsoClient.version)")
        }
    }

    @Test("X-RateLimit-Remaining 0 on a success closes the gate until X-RateLimit-Reset")
    func remainingZeroClosesGate() async throws {
        var reply = StubServer.Reply()
        // Near the 60 s the gate is closed for at most: a test process starved for half a minute (CPU-bound suites
        // beside it on a 2-core machine) still gets its answer before the reset.
        let reset = Int(Date().timeIntervalSince1970) + 55
        reply.headers[HTTPField.Name("X-RateLimit-Limit")!] = "300"
        reply.headers[HTTPField.Name("X-RateLimit-Remaining")!] = "0"
        reply.headers[HTTPField.Name("X-RateLimit-Reset")!] = "\(reset)"
        try await Self.withClient(reply) { client, _ in
            #expect(try await client.send(Self.event).isDelivered)
            let untilReset = Double(reset) - Date().timeIntervalSince1970
            // Starved for longer still, the reset has passed and the gate rightly stays open: this run proves nothing.
            guard untilReset > 2 else { return }
            let closed = try #require(client.rateLimiter.gateRemaining)
            // Until the reset, however long the request took on a loaded machine.
            let seconds = Double(closed.components.seconds) + Double(closed.components.attoseconds) / 1e18
            #expect(seconds > untilReset - 2 && seconds <= untilReset + 1, "closed \(closed), reset in \(untilReset) s")
        }
    }

    @Test("an HTML 404 means a wrong base_url, not a missing referral")
    func htmlNotFound() async throws {
        var reply = StubServer.Reply()
        reply.status = .notFound
        reply.headers = [.contentType: "text/html"]
        reply.body = "<html><body>Not Found</body></html>"
        try await Self.withClient(reply) { client, _ in
            guard case .failed(let error) = try await client.send(Self.event) else {
                Issue.record("expected a failure")
                return
            }
            #expect(error.errorClass == .clientError)
            #expect(error.status == 404)
            #expect(error.message.contains("affonso.base_url"))
        }
    }

    @Test("redirects are not followed (the key must not travel to another host)")
    func redirectNotFollowed() async throws {
        var reply = StubServer.Reply()
        reply.status = .movedPermanently
        reply.headers = [.location: "http://127.0.0.1:1/v1/events"]
        reply.body = ""
        try await Self.withClient(reply) { client, server in
            guard case .failed(let error) = try await client.send(Self.event) else {
                Issue.record("expected a failure")
                return
            }
            #expect(error.errorClass == .clientError)
            #expect(error.status == 301)
            #expect(server.requests.count == 1)
        }
    }
}
