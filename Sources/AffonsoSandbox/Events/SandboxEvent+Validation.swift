extension SandboxEvent {
    /// Validates a parsed body against docs/affonso.md; returns every field error at once.
    static func validate(_ body: JSONValue) -> Result<SandboxEvent, ValidationFailure> {
        var validator: Validator
        switch Validator.of(body) {
        case .success(let started): validator = started
        case .failure(let failure): return .failure(failure)
        }
        let eventName = validator.string("event_name", required: true)
        var eventType = EventType.milestone
        if let text = validator.string("event_type") {
            if let parsed = EventType(rawValue: text) {
                eventType = parsed
            } else {
                validator.fail("event_type", "must be one of conversion, lead, trial, milestone; got \"\(text)\"")
            }
        }
        var referralID = validator.string("referral_id")
        if let alias = validator.string("affonso_id") {
            if let referralID, referralID != alias {
                validator.fail(
                    "affonso_id",
                    "is an alias of referral_id and differs from it (\"\(alias)\" vs \"\(referralID)\"); send one"
                )
            }
            referralID = referralID ?? alias
        }
        let customerID = validator.string("customer_id")
        let externalUserID = validator.string("external_user_id")
        let clickID = validator.string("click_id")
        if referralID == nil, customerID == nil, externalUserID == nil, clickID == nil,
            !validator.failed(anyOf: ["referral_id", "affonso_id", "customer_id", "external_user_id", "click_id"])
        {
            validator.fail(
                "identifiers",
                "none sent: send at least one of referral_id, customer_id, external_user_id, click_id"
            )
        }
        let isConversion = eventType == .conversion
        let externalEventID = validator.string("external_event_id", required: isConversion, maximumLength: 255)
        let occurredAt = validator.string("occurred_at")
        if let occurredAt, !RFC3339.isValid(occurredAt) {
            validator.fail("occurred_at", "must be an RFC 3339 time like 2026-01-31T12:00:00Z; got \"\(occurredAt)\"")
        }
        let saleAmount = validator.number("sale_amount", required: isConversion)
        if let saleAmount, !(saleAmount > 0) {
            validator.fail("sale_amount", "must be greater than 0 (major units, 99.00 = $99); got \(saleAmount)")
        }
        let currency = validator.currency("sale_amount_currency", required: isConversion)
        var saleMinorUnits: Int64?
        if let saleAmount, saleAmount > 0, let code = currency {
            switch Money.minorUnits(of: saleAmount, currency: code, rounding: true) {
            case .success(let minor):
                saleMinorUnits = minor
            case .failure(.belowMinorUnit):
                validator.fail(
                    "sale_amount",
                    "is less than one minor unit of \(code) (\(Money.text(1, currency: code))); got \(saleAmount)"
                )
            case .failure:
                validator.fail(
                    "sale_amount",
                    "must be at most \(Money.maximumText(currency: code)) (major units, 99.00 = $99); got \(saleAmount)"
                )
            }
        }
        validator.stringArray("product_ids")
        validator.stringArray("price_ids")
        var interval: Interval?
        if let text = validator.string("interval") {
            interval = Interval(rawValue: text)
            if interval == nil { validator.fail("interval", "must be monthly or yearly; got \"\(text)\"") }
        }
        let isSubscription = validator.bool("is_subscription")
        if let metadata = validator.fields["metadata"], metadata != .null, metadata.objectValue == nil {
            validator.fail("metadata", "must be an object, got \(metadata.typeName)")
        }
        guard validator.errors.isEmpty, let eventName else {
            return .failure(ValidationFailure(errors: validator.errors))
        }
        return .success(
            SandboxEvent(
                eventName: eventName,
                eventType: eventType,
                referralID: referralID,
                customerID: customerID,
                externalUserID: externalUserID,
                clickID: clickID,
                externalEventID: externalEventID,
                occurredAt: occurredAt,
                saleAmount: saleAmount,
                saleAmountCurrency: currency,
                saleMinorUnits: saleMinorUnits,
                interval: interval,
                isSubscription: isSubscription
            )
        )
    }
}

/// Every field error of one request body.
struct ValidationFailure: Error, Sendable {
    var errors: [FieldError]

    /// One line: "event_name: is required; sale_amount: must be greater than 0".
    var message: String {
        let list = self.errors.map { "\($0.field): \($0.message)" }.joined(separator: "; ")
        return self.errors.count == 1 ? "invalid field \(list)" : "\(self.errors.count) invalid fields: \(list)"
    }
}

/// Reads typed fields and collects errors.
struct Validator {
    let fields: [String: JSONValue]
    var errors: [FieldError] = []

    /// A validator of `body`'s fields, or the failure that `body` is no JSON object.
    static func of(_ body: JSONValue) -> Result<Validator, ValidationFailure> {
        guard case .object(let fields) = body else {
            return .failure(
                ValidationFailure(errors: [
                    FieldError(field: "body", message: "must be a JSON object, got \(body.typeName)")
                ])
            )
        }
        return .success(Validator(fields: fields))
    }

    /// A three-letter ISO 4217 code in any case, returned in upper case; `nil` when absent or invalid.
    mutating func currency(_ name: String, required: Bool) -> String? {
        guard let code = self.string(name, required: required) else { return nil }
        let upper = code.uppercased()
        guard code.utf8.count == 3, ISO4217.codes.contains(upper) else {
            self.fail(name, "must be a three-letter ISO 4217 currency code such as USD or EUR; got \"\(code)\"")
            return nil
        }
        return upper
    }

    mutating func fail(_ field: String, _ message: String) {
        self.errors.append(FieldError(field: field, message: message))
    }

    func failed(anyOf names: [String]) -> Bool {
        self.errors.contains { names.contains($0.field) }
    }

    mutating func string(_ name: String, required: Bool = false, maximumLength: Int = 1024) -> String? {
        switch self.fields[name] {
        case nil, .null?:
            if required { self.fail(name, "is required") }
            return nil
        case .string(let value)?:
            if value.isEmpty {
                self.fail(name, "must not be empty")
                return nil
            }
            if value.utf8.count > maximumLength {
                self.fail(name, "must be at most \(maximumLength) bytes, got \(value.utf8.count)")
                return nil
            }
            return value
        case let other?:
            self.fail(name, "must be a string, got \(other.typeName)")
            return nil
        }
    }

    mutating func number(_ name: String, required: Bool) -> Double? {
        switch self.fields[name] {
        case nil, .null?:
            if required { self.fail(name, "is required") }
            return nil
        case .number(let value)?:
            return value
        case let other?:
            self.fail(name, "must be a number, got \(other.typeName)")
            return nil
        }
    }

    mutating func bool(_ name: String) -> Bool? {
        switch self.fields[name] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        case let other?:
            self.fail(name, "must be true or false, got \(other.typeName)")
            return nil
        }
    }

    mutating func stringArray(_ name: String) {
        switch self.fields[name] {
        case nil, .null?: return
        case .array(let elements)?:
            for (index, element) in elements.enumerated() where element.stringValue == nil {
                self.fail("\(name)[\(index)]", "must be a string, got \(element.typeName)")
            }
        case let other?:
            self.fail(name, "must be an array of strings, got \(other.typeName)")
        }
    }
}
