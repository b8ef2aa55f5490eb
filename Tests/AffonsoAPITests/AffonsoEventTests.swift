import Foundation
import Testing

@testable import AffonsoAPI

@Suite("AffonsoEvent")
struct AffonsoEventTests {
    static func object(_ event: AffonsoEvent) throws -> [String: Any] {
        let json = try JSONSerialization.jsonObject(with: Data(try event.jsonBody()))
        return try #require(json as? [String: Any])
    }

    @Test("every field uses the exact wire name of AFFONSO_API.md")
    func wireNames() throws {
        var event = AffonsoEvent(eventName: "invoice_paid", eventType: .conversion)
        event.referralID = "ref_1"
        event.customerID = "cus_1"
        event.externalUserID = "u_1"
        event.clickID = "clk_1"
        event.externalEventID = "in_1"
        event.occurredAt = "2026-11-25T10:00:00Z"
        event.saleAmount = 99.5
        event.saleAmountCurrency = "USD"
        event.productIDs = ["prod_1"]
        event.priceIDs = ["price_1", "price_2"]
        event.interval = "monthly"
        event.isSubscription = true
        event.metadata = ["stripe_invoice": "in_1", "lines": 2, "nested": ["a": [true, nil]]]

        let object = try Self.object(event)
        #expect(
            Set(object.keys) == [
                "event_name", "event_type", "referral_id", "customer_id", "external_user_id", "click_id",
                "external_event_id", "occurred_at", "sale_amount", "sale_amount_currency", "product_ids",
                "price_ids", "interval", "is_subscription", "metadata",
            ]
        )
        #expect(object["event_type"] as? String == "conversion")
        #expect(object["sale_amount"] as? Double == 99.5)
        #expect(object["is_subscription"] as? Bool == true)
        #expect(object["price_ids"] as? [String] == ["price_1", "price_2"])
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["lines"] as? Int == 2)

        let decoded = try JSONDecoder().decode(AffonsoEvent.self, from: Data(try event.jsonBody()))
        #expect(decoded == event)
    }

    @Test("absent fields are omitted, not sent as null")
    func absentOmitted() throws {
        var event = AffonsoEvent(eventName: "signup")
        event.externalUserID = "u_1"
        let object = try Self.object(event)
        #expect(Set(object.keys) == ["event_name", "external_user_id"])
    }

    @Test("a non-finite amount is an error naming the event, not a crash")
    func nonFinite() {
        var event = AffonsoEvent(eventName: "bad", eventType: .conversion)
        event.saleAmount = .nan
        #expect(throws: AffonsoError.self) { try event.jsonBody() }
    }
}
