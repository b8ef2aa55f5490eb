import Testing

@testable import AffonsoSandbox

@Suite("Server lifecycle")
struct ServerLifecycleTests {
    @Test func portZeroBindsAFreePortAndReportsIt() async throws {
        try await RunningSandbox.with { first in
            try await RunningSandbox.with { second in
                #expect(first.port > 0 && second.port > 0)
                #expect(first.port != second.port)
                let reported = try await second.server.waitUntilListening()
                #expect(reported == second.port)
                let reply = try await first.event(Body.lead())
                #expect(reply.status == 200)
            }
        }
    }

    @Test func busyPortFailsWaiters() async throws {
        try await RunningSandbox.with { running in
            var configuration = SandboxConfiguration()
            configuration.port = running.port
            let clash = try AffonsoSandboxServer(configuration: configuration)
            await #expect(throws: (any Error).self) {
                try await clash.withRunning { _ in }
            }
        }
    }

    @Test func unknownPathsAre404() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.get("/v1/nothing")
            #expect(reply.status == 404)
        }
    }
}
