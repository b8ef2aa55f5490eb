import Foundation

// MARK: - AffonsoOutcome

/// What became of one request to `POST /v1/events` or `POST /v1/conversions/{id}/refund`: exactly one of delivered
/// or failed.
public enum AffonsoOutcome: Sendable {
    /// A 2xx response: the event was acknowledged (possibly as an idempotent replay).
    case delivered(AffonsoDelivery)
    /// Any other response or a transport failure; ``AffonsoError/errorClass`` says what to do.
    case failed(AffonsoError)

    /// The HTTP status, when a response arrived.
    public var status: Int? {
        switch self {
        case .delivered(let delivery): delivery.status
        case .failed(let error): error.status
        }
    }

    /// The failure class, or `nil` when delivered.
    public var errorClass: AffonsoErrorClass? {
        if case .failed(let error) = self { return error.errorClass }
        return nil
    }

    /// Whether the event was acknowledged.
    public var isDelivered: Bool {
        if case .delivered = self { return true }
        return false
    }
}

// MARK: - AffonsoDelivery

/// A summary of the `data` object of a success envelope.
///
/// Conversions return the conversion object (``conversionID``, ``commissionAmount``); lead, trial and milestone
/// events return a processing result (``action``, ``referralStatus``); refunds return the updated conversion
/// (``conversionID``, ``salesStatus``, ``commissionAmount`` after the refund, ``refundID``). Fields the response did
/// not carry are `nil`.
public struct AffonsoDelivery: Sendable, Hashable {
    /// The HTTP status (2xx).
    public var status: Int
    /// The raw response body. The fields below are decoded from it on every read (the relay itself reads none, so
    /// a delivery costs no JSON decoding; a caller reading several may decode ``data`` once instead).
    public var responseBody: [UInt8]

    /// Whether the body of the 2xx could not be read (the connection closed, broke or stalled after the head):
    /// the event had no `external_event_id`, so it was not sent again, and the fields below are `nil`.
    public var isBodyUnreadable: Bool

    /// Creates a delivery summary from a 2xx status and its response body (a success envelope, or anything).
    public init(status: Int, responseBody: [UInt8], isBodyUnreadable: Bool = false) {
        self.status = status
        self.responseBody = responseBody
        self.isBodyUnreadable = isBodyUnreadable
    }

    /// The referral that matched (`data.referral_id`).
    public var referralID: String? { summary?.referralID }
    /// The conversion's Affonso id (`data.id`, `com_…`) of a conversion or a refund: what
    /// ``AffonsoClient/sendRefund(conversionID:body:externalEventID:)`` takes to refund it. Remember it for
    /// every delivered conversion; `nil` for lead, trial and milestone events.
    public var conversionID: String? { summary?.id }
    /// The same as ``conversionID`` (`data.id`): Affonso's conversion object is also the commission.
    public var commissionID: String? { summary?.id }
    /// The conversion's sales status after a refund (`data.sales_status`): `partial_refunded` or `refunded`.
    public var salesStatus: String? { summary?.salesStatus }
    /// The id Affonso gave a refund (`data.refund.id`); `nil` for events.
    public var refundID: String? { summary?.refund?.id }
    /// The commission amount of a conversion, or what is left of it after a refund (`data.commission_amount`).
    public var commissionAmount: Double? { summary?.commissionAmount }
    /// The commission currency of a conversion (`data.commission_currency`).
    public var commissionCurrency: String? { summary?.commissionCurrency }
    /// The action taken for a non-conversion event, e.g. `referral_updated` (`data.action`).
    public var action: String? { summary?.action }
    /// The referral status after the event, e.g. `trialing` (`data.referral_status`).
    public var referralStatus: String? { summary?.referralStatus }
    /// The idempotency key the API recorded (`data.external_event_id`).
    public var externalEventID: String? { summary?.externalEventID }

    private var summary: SummaryEnvelope.Summary? {
        guard !responseBody.isEmpty else { return nil }
        return (try? JSONDecoder().decode(SummaryEnvelope.self, from: Data(responseBody)))?.data
    }

    /// The whole `data` object of the envelope, decoded on demand (`.null` when the body was not an envelope).
    public var data: JSONValue {
        (try? JSONDecoder().decode(DataEnvelope.self, from: Data(responseBody)))?.data ?? .null
    }

    private struct DataEnvelope: Decodable {
        var data: JSONValue?
    }

    /// The fields of `data` the summary keeps; each is read leniently (a field of another type is `nil`).
    private struct SummaryEnvelope: Decodable {
        struct Summary: Decodable {
            var id, referralID, commissionCurrency, action, referralStatus, externalEventID, salesStatus: String?
            var commissionAmount: Double?
            var refund: Refund?

            struct Refund: Decodable {
                var id: String?

                private enum CodingKeys: String, CodingKey { case id }

                init(from decoder: any Decoder) throws {
                    let container = try decoder.container(keyedBy: CodingKeys.self)
                    id = try? container.decodeIfPresent(String.self, forKey: .id)
                }
            }

            enum CodingKeys: String, CodingKey {
                case id, action, refund
                case salesStatus = "sales_status"
                case referralID = "referral_id"
                case commissionCurrency = "commission_currency"
                case referralStatus = "referral_status"
                case externalEventID = "external_event_id"
                case commissionAmount = "commission_amount"
            }

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                func string(_ key: CodingKeys) -> String? { try? container.decodeIfPresent(String.self, forKey: key) }
                id = string(.id)
                referralID = string(.referralID)
                commissionCurrency = string(.commissionCurrency)
                action = string(.action)
                referralStatus = string(.referralStatus)
                externalEventID = string(.externalEventID)
                salesStatus = string(.salesStatus)
                commissionAmount = try? container.decodeIfPresent(Double.self, forKey: .commissionAmount)
                refund = try? container.decodeIfPresent(Refund.self, forKey: .refund)
            }
        }

        var data: Summary?
    }
}
