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

    /// 280 records of 900 KB (252 MB) of one customer, 300 ms per request: that key's queue stays busy from start
    /// to end, the case in which delivered records used to stay referenced until a thousand had piled up.
    @Test func largeRecordsUnderASlowAPIStayInsideThePodMemoryLimit() async throws {
        let keys = 1
        let perKey = 280
        let relay = try await RelayHarness(referrals: (0..<keys).map(referral), partitions: 1)
        var faults = SandboxFaults.none
        faults.latency = .milliseconds(300)
        relay.sandbox.setFaults(faults)
        let padding = String(repeating: "x", count: 900_000)
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
        let process = try RelayProcess(configuration: { relay.configurationText(listen: $0) })
        let delivered = await kafkaEventually(timeout: .seconds(180)) { relay.sandbox.stats.accepted >= count }
        let peak = Self.peakResidentMebibytes(process.pid)
        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
        await process.kill()
        try await relay.stop()

        #expect(delivered, "\(relay.sandbox.stats.accepted) of \(count) large records delivered")
        let megabytes = try #require(peak, "no VmHWM for the relay process")
        print("memory test: \(count) records of 900 KB (\(count * 9 / 10) MB) → peak RSS \(megabytes) MiB")
        #expect(megabytes < 256, "peak RSS \(megabytes) MiB with \(count * 9 / 10) MB of records behind a slow API")
    }
}
