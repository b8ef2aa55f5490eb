import AffonsoSandbox
import Foundation
import KafkaClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Refunds as users run them: conversions delivered by one relay, refunds handled by another member that never
/// saw them (it reads the conversions topic), a full, a partial, the same refund twice, and a refund read before
/// its conversion; the sandbox's net commissions end exactly as expected.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayRefundTests {
    static func rules(_ source: String) -> String {
        """
        rules:
          - name: invoice-paid
            topics: ["\(source)"]
            match: "payload.type == 'invoice.paid'"
            event:
              event_name: "'invoice_paid'"
              event_type: "'conversion'"
              customer_id: "payload.customer"
              sale_amount: "double(payload.amount) / 100.0"
              sale_amount_currency: "'USD'"
              external_event_id: "payload.id"
          - name: invoice-refunded
            topics: ["\(source)"]
            match: "payload.type == 'invoice.refunded'"
            refund:
              conversion: "payload.invoice"
              amount: "has(payload.amount) ? double(payload.amount) / 100.0 : null"
              currency: "'USD'"
              reason: "'requested by customer'"
              external_event_id: "payload.id"

        """
    }

    /// Produces `(key, JSON)` records in order (one key keeps its records in one partition, in order).
    static func produce(_ topic: String, _ records: [(String, String)]) async throws {
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: kafkaBrokers ?? []), logger: RelayHarness.logger
        )
        for (key, value) in records {
            _ = try await producer.send(topic: topic, key: Array(key.utf8), value: Array(value.utf8))
        }
        await producer.close()
    }

    static func invoice(_ id: String, customer: String, amount: Int) -> (String, String) {
        (customer, #"{"id": "\#(id)", "type": "invoice.paid", "customer": "\#(customer)", "amount": \#(amount)}"#)
    }

    static func refund(_ id: String, of invoice: String, customer: String, amount: Int? = nil) -> (String, String) {
        let amountField = amount.map { #", "amount": \#($0)"# } ?? ""
        return (
            customer,
            #"{"id": "\#(id)", "type": "invoice.refunded", "invoice": "\#(invoice)"\#(amountField)}"#
        )
    }

    @Test func refundsOfConversionsAnotherMemberDeliveredEndAtTheExpectedNetCommissions() async throws {
        let relay = try await RelayHarness(
            referrals: (1...5).map(referral), partitions: 2, tiers: ["1s", "2s"], maxAttempts: 6,
            rules: Self.rules)
        let customers = (1...5).map { "cus_test_\($0)" }
        try await Self.produce(
            relay.source, (1...4).map { Self.invoice("in_\($0)", customer: customers[$0 - 1], amount: 9900) })

        // The first member delivers the four conversions and remembers them; then it leaves.
        try relay.start()
        let delivered = await kafkaEventually(timeout: .seconds(60)) { relay.sandbox.ledger.count >= 4 }
        #expect(delivered, "the conversions are delivered")
        try await relay.stop(keepSandbox: true)

        // Refunds, read by a member that never saw the conversions: full, partial, the partial again, and one read
        // before its conversion.
        try await Self.produce(
            relay.source,
            [
                Self.refund("re_1", of: "in_1", customer: customers[0]),
                Self.refund("re_2", of: "in_2", customer: customers[1], amount: 3000),
                Self.refund("re_2", of: "in_2", customer: customers[1], amount: 3000),
                Self.refund("re_3", of: "in_5", customer: customers[4], amount: 1000),
                Self.invoice("in_5", customer: customers[4], amount: 5000),
            ])
        try relay.start()
        let refunded = await kafkaEventually(timeout: .seconds(90)) { relay.sandbox.refunds.count >= 3 }
        #expect(refunded, "three distinct refunds reach Affonso: \(relay.sandbox.refunds.count)")
        try await Task.sleep(for: .seconds(2))
        try await relay.stop()

        func entry(_ id: String) -> SandboxLedgerEntry? {
            relay.sandbox.ledger.first { $0.externalEventID == id && $0.eventType == "conversion" }
        }
        /// The sandbox's rule: the commission in proportion to what remains, halves away from zero.
        func net(_ entry: SandboxLedgerEntry, remaining: Int64) -> Int64? {
            guard let commission = entry.commissionMinorUnits, let sale = entry.saleMinorUnits, sale > 0 else {
                return nil
            }
            return Int64((Double(commission) * Double(remaining) / Double(sale)).rounded(.toNearestOrAwayFromZero))
        }
        let full = try #require(entry("in_1"))
        #expect(full.salesStatus == "refunded")
        #expect(full.netCommissionMinorUnits == 0, "a full refund takes the whole commission back")
        let partial = try #require(entry("in_2"))
        #expect(partial.salesStatus == "partial_refunded")
        #expect(partial.refundedMinorUnits == 3000)
        #expect(partial.refundCount == 1, "the same refund twice is applied once")
        #expect(partial.netCommissionMinorUnits == net(partial, remaining: 6900))
        let untouched = try #require(entry("in_3"))
        #expect(untouched.refundedMinorUnits ?? 0 == 0)
        #expect(untouched.netCommissionMinorUnits == untouched.commissionMinorUnits)
        let late = try #require(entry("in_5"))
        #expect(late.refundedMinorUnits == 1000, "a refund read before its conversion waits for it")
        #expect(late.netCommissionMinorUnits == net(late, remaining: 4000))
        #expect(Set(relay.sandbox.refunds.compactMap(\.externalEventID)) == ["re_1", "re_2", "re_3"])
        #expect(relay.sandbox.ledger.filter { $0.eventType == "conversion" }.count == 5, "no refund became an event")
    }

    @Test func aSigkillWhileConversionsAndRefundsFlowLosesNothingAndRefundsNothingTwice() async throws {
        let customers = 50
        let relay = try await RelayHarness(
            referrals: (0..<customers).map(referral), partitions: 3, delivery: ["max_in_flight: 64"],
            rules: Self.rules)
        let count = 1_500
        // Each conversion, then its partial refund, on the customer's key (so in one partition, in that order).
        var records: [(String, String)] = []
        for index in 0..<count {
            let customer = "cus_test_\(index % customers)"
            records.append(Self.invoice("in_kill_\(index)", customer: customer, amount: 9900))
            records.append(Self.refund("re_kill_\(index)", of: "in_kill_\(index)", customer: customer, amount: 3000))
        }
        try await Self.produce(relay.source, records)

        let first = try RelayProcess(configuration: {
            relay.configurationText(listen: $0, rules: Self.rules(relay.source))
        })
        let midway = await kafkaEventually(timeout: .seconds(120)) {
            relay.sandbox.refunds.count >= count / 3 || !first.isRunning
        }
        #expect(midway && first.isRunning, "refunds before the kill: \(relay.sandbox.refunds.count)")
        first.signal(SIGKILL)
        #expect(await first.waitForExit(timeout: .seconds(10)) != nil)

        let second = try RelayProcess(configuration: {
            relay.configurationText(listen: $0, rules: Self.rules(relay.source))
        })
        let done = await kafkaEventually(timeout: .seconds(180)) { relay.sandbox.refunds.count >= count }
        second.signal(SIGTERM)
        #expect(await second.waitForExit(timeout: .seconds(30)) == 0)
        await second.kill()
        try await relay.stop()

        #expect(done, "every refund reaches Affonso after the kill: \(relay.sandbox.refunds.count) of \(count)")
        let conversions = relay.sandbox.ledger.filter { $0.eventType == "conversion" }
        #expect(conversions.count == count, "every conversion once")
        let wrong = conversions.filter { $0.refundCount != 1 || $0.refundedMinorUnits != 3000 }
        #expect(wrong.isEmpty, "\(wrong.count) conversions refunded other than once by 30.00")
        #expect(Set(relay.sandbox.refunds.compactMap(\.externalEventID)).count == count)
    }
}
