import AffonsoAPI
import CEL
import Foundation
import Rules

// MARK: - ConversionMemory

/// What the relay remembers of an acknowledged conversion, so that a refund can find it: a record of the
/// conversions topic (`<group>.conversions`, compacted), keyed by the conversion's `external_event_id`, valued
/// `{"conversion_id":"com_…","amount":49.99,"currency":"USD","remembered_at":"…"}`.
struct ConversionMemory: Sendable, Hashable, Codable {
    var externalEventID: String
    /// The conversion's Affonso id, which `POST /v1/conversions/{id}/refund` takes.
    var conversionID: String
    var amount: Double?
    var currency: String?
    var rememberedAt: Date

    private enum CodingKeys: String, CodingKey {
        case conversionID = "conversion_id", amount, currency, rememberedAt = "remembered_at"
    }

    init(externalEventID: String, conversionID: String, amount: Double?, currency: String?, rememberedAt: Date) {
        self.externalEventID = externalEventID
        self.conversionID = conversionID
        self.amount = amount
        self.currency = currency
        self.rememberedAt = rememberedAt
    }

    /// The memory of a conversion the API acknowledged; nil when the response carried no usable id.
    init?(_ event: MappedEvent, delivery: AffonsoDelivery, date: Date) {
        guard let id = delivery.commissionID, !id.isEmpty, id.utf8.count <= ConversionIndex.maximumIDLength else {
            return nil
        }
        var amount: Double?
        var currency: String?
        for (name, value) in event.sortedFields {
            switch (name, value) {
            case ("sale_amount", .double(let number)): amount = number
            case ("sale_amount", .int(let number)): amount = Double(number)
            case ("sale_amount", .uint(let number)): amount = Double(number)
            case ("currency", .string(let code)): currency = code
            default: break
            }
        }
        self.init(
            externalEventID: event.externalEventID, conversionID: id, amount: amount, currency: currency,
            rememberedAt: date)
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        externalEventID = ""
        conversionID = try container.decode(String.self, forKey: .conversionID)
        amount = try container.decodeIfPresent(Double.self, forKey: .amount)
        currency = try container.decodeIfPresent(String.self, forKey: .currency)
        rememberedAt = (try? container.decode(Date.self, forKey: .rememberedAt)) ?? Date(timeIntervalSince1970: 0)
    }

    /// The record key: the conversion's external_event_id.
    var key: [UInt8] { Array(externalEventID.utf8) }

    /// The record value.
    var value: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(self)).map(Array.init) ?? []
    }

    /// A record read from the conversions topic; nil for one that is not a conversion memory (a tombstone,
    /// or a record written by something else).
    init?(key: [UInt8]?, value: [UInt8]) {
        guard let key, !key.isEmpty, !value.isEmpty, value.count <= 4096 else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard var memory = try? decoder.decode(ConversionMemory.self, from: Data(value)) else { return nil }
        memory.externalEventID = String(decoding: key, as: UTF8.self)
        guard !memory.conversionID.isEmpty, memory.conversionID.utf8.count <= ConversionIndex.maximumIDLength else {
            return nil
        }
        self = memory
    }
}
