import AffonsoSandbox
import Foundation
import Relay
import Testing

/// What an operator sees (SPEC.md §8): the Prometheus text served on /metrics, and /readyz's answer.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayOperationsTests {
    /// The process-wide Prometheus registry (swift-metrics can be bootstrapped once per process).
    static let renderMetrics = RelayMetrics.bootstrapPrometheus()

    /// The value of one series in the exposition text, 0 when absent.
    static func value(_ series: String) -> Double {
        let text = String(decoding: renderMetrics(), as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test func metricsCountWhatHappenedAndReadinessFollowsTheRelay() async throws {
        let relay = try await RelayHarness(referrals: [referral(0)], partitions: 1)
        let delivered = #"affonso_relay_events_delivered_total{event_type="conversion",rule="invoice-paid"}"#
        let deadLettered = #"affonso_relay_dead_lettered_total{class="decode"}"#
        let consumed = "affonso_relay_records_consumed_total{topic=\"\(relay.source)\"}"
        let before = (Self.value(delivered), Self.value(deadLettered))
        try await relay.produceInvoices(["in_ops_0", "in_ops_1", "in_ops_2"]) { _ in "cus_test_0" }
        try await relay.produceRaw([Array("{broken".utf8)])
        try relay.start()
        let done = await kafkaEventually(timeout: .seconds(60)) {
            Self.value(delivered) - before.0 >= 3 && Self.value(deadLettered) - before.1 >= 1
        }
        #expect(done)
        #expect(relay.service.isReady, "/readyz passes while the relay consumes and Affonso accepts the key")
        #expect(Self.value(consumed) == 4)
        #expect(Self.value(delivered) - before.0 == 3)
        #expect(Self.value(deadLettered) - before.1 == 1)
        #expect(Self.value(#"affonso_relay_api_responses_total{status="200"}"#) >= 3)
        #expect(Self.value("affonso_relay_request_duration_seconds_count") >= 3)
        let committed = "affonso_relay_committed_offset{topic=\"\(relay.source)\",partition=\"0\"}"
        let caughtUp = await kafkaEventually(timeout: .seconds(10)) { Self.value(committed) == 4 }
        #expect(caughtUp, "committed_offset shows the stored offset of the source partition")
        let service = relay.service
        try await relay.stop()
        #expect(!service.isReady, "/readyz fails once the relay stops")
        let text = String(decoding: Self.renderMetrics(), as: UTF8.self)
        #expect(!text.contains("sk_test_sandbox"), "the API key never reaches the metrics")
    }
}
