extension SandboxReferral {
    struct DecodingFailure: Error {
        var message: String
    }

    /// Reads a referral from its seed or `POST /_sandbox/referrals` form.
    init(json: JSONValue) throws(DecodingFailure) {
        guard case .object(let fields) = json else {
            throw DecodingFailure(message: "expected a mapping with id, affiliate_id, …; got \(json.typeName)")
        }
        let known: Set<String> = ["id", "affiliate_id", "customer_id", "external_user_id", "click_id", "status"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw DecodingFailure(
                message: "unknown field `\(unknown)`; allowed: id, affiliate_id, customer_id, external_user_id, "
                    + "click_id, status"
            )
        }
        func identifier(_ name: String, required: Bool) throws(DecodingFailure) -> String? {
            switch fields[name] {
            case nil, .null?:
                if required { throw DecodingFailure(message: "`\(name)` is required") }
                return nil
            case .string(let value)?:
                guard !value.isEmpty else { throw DecodingFailure(message: "`\(name)` must not be empty") }
                return value
            case .number(let value)? where value.rounded() == value:
                return JSONWriter.format(value)
            case let other?:
                throw DecodingFailure(message: "`\(name)` must be a string, got \(other.typeName)")
            }
        }
        var status = Status.lead
        if let text = try identifier("status", required: false) {
            guard let parsed = Status(rawValue: text) else {
                throw DecodingFailure(message: "`status` must be one of lead, trialing, customer; got \"\(text)\"")
            }
            status = parsed
        }
        self.init(
            id: try identifier("id", required: true)!,
            affiliateID: try identifier("affiliate_id", required: true)!,
            customerID: try identifier("customer_id", required: false),
            externalUserID: try identifier("external_user_id", required: false),
            clickID: try identifier("click_id", required: false),
            status: status
        )
    }

    func write(to writer: inout JSONWriter) {
        writer.object { object in
            object.field("id", self.id)
            object.field("affiliate_id", self.affiliateID)
            object.field("customer_id", self.customerID)
            object.field("external_user_id", self.externalUserID)
            object.field("click_id", self.clickID)
            object.field("status", self.status.rawValue)
        }
    }
}
