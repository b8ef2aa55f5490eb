import AffonsoSandbox
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Large records under a slow API: the relay binary stays inside the Deployment's 256 MiB memory limit
/// (deploy/kubernetes/base/deployment.yaml) while more than that passes through it.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayMemoryTests {
    /// The peak resident memory of a process (`VmHWM`), in MiB.
    static func peakResidentMebibytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kibibytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kibibytes >> 10
    }

    /// The pod's limit is 256 MiB; the relay stays well inside it (`delivery.max_buffered_bytes` 64 MiB plus
    /// librdkafka's prefetch of a sixty-fourth of that, at least 1 MiB, plus the process itself).
    static let peakLimitMebibytes = 200

    /// 280 records of 900 KB (252 MB) of one customer, 300 ms per request: that key's queue stays busy from start
    /// to end, the case in which delivered records used to stay referenced until a thousand had piled up, and in
    /// which the consumer used to take every record the broker sent while the first ones were being mapped.
    @Test func largeRecordsUnderASlowAPIStayInsideThePodMemoryLimit() async throws {
        try await expectBoundedMemory(keys: 1, perKey: 280, size: 900_000, partitions: 1, latency: .milliseconds(300))
    }

    /// 2,000 records of 200 KB (400 MB) of 40 customers over 4 partitions, 50 ms per request.
    @Test func manyLargeRecordsOverPartitionsStayInsideThePodMemoryLimit() async throws {
        try await expectBoundedMemory(keys: 40, perKey: 50, size: 200_000, partitions: 4, latency: .milliseconds(50))
    }

    private func expectBoundedMemory(
        keys: Int, perKey: Int, size: Int, partitions: Int, latency: Duration
    ) async throws {
        let relay = try await RelayHarness(referrals: (0..<keys).map(referral), partitions: partitions)
        var faults = SandboxFaults.none
        faults.latency = latency
        relay.sandbox.setFaults(faults)
        let padding = String(repeating: "x", count: size)
        for key in 0..<keys {
            let values = (0..<perKey).map { index in
                Array(
                    """
                    {"id": "in_large_\(key)_\(index)", "type": "invoice.paid", "customer": "cus_test_\(key)", \
                    "amount": 100, "currency": "usd", "notes": "\(padding)"}
                    """.utf8)
            }
            try await relay.produceRaw(values, key: "cus_test_\(key)")
        }
        let count = keys * perKey
        let megabytesProduced = count * size / 1_000_000
        let process = try RelayProcess(configuration: { relay.configurationText(listen: $0) })
        let delivered = await kafkaEventually(timeout: .seconds(240)) { relay.sandbox.stats.accepted >= count }
        let peak = Self.peakResidentMebibytes(process.pid)
        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
        await process.kill()
        try await relay.stop()

        #expect(delivered, "\(relay.sandbox.stats.accepted) of \(count) large records delivered")
        let megabytes = try #require(peak, "no VmHWM for the relay process")
        print(
            "memory test: \(count) records of \(size / 1000) KB (\(megabytesProduced) MB) → peak RSS \(megabytes) MiB")
        #expect(
            megabytes <= Self.peakLimitMebibytes,
            "peak RSS \(megabytes) MiB with \(megabytesProduced) MB of records behind a slow API")
    }
}
