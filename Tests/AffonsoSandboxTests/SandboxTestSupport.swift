import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import AffonsoSandbox

/// Seed referrals most tests use.
enum Seed {
    static let lead = SandboxReferral(
        id: "ref_lead",
        affiliateID: "aff_default",
        customerID: "cus_lead",
        externalUserID: "usr_lead",
        clickID: "clk_lead"
    )
    static let other = SandboxReferral(
        id: "ref_other",
        affiliateID: "aff_generous",
        customerID: "cus_other",
        externalUserID: "usr_other",
        clickID: "clk_other"
    )
    /// Known only by its click, as right after a click is tracked.
    static let clickOnly = SandboxReferral(id: "ref_click", affiliateID: "aff_default", clickID: "clk_only")

    static func configuration() -> SandboxConfiguration {
        var configuration = SandboxConfiguration()
        configuration.referrals = [lead, other, clickOnly]
        configuration.commissionRates = ["aff_generous": 0.40]
        return configuration
    }
}

/// A response as a test sees it.
struct SandboxReply {
    var status: Int
    var headers: HTTPFields
    var text: String

    var json: JSONValue { (try? JSONParser.parse(self.text)) ?? .null }
    var errorCode: String? { self.json["error"]["code"].stringValue }
    var errorMessage: String { self.json["error"]["message"].stringValue ?? "" }
    var data: JSONValue { self.json["data"] }

    func header(_ name: String) -> String? { self.headers[HTTPField.Name(name)!] }
    func intHeader(_ name: String) -> Int? { self.header(name).flatMap { Int($0) } }
}

/// A running sandbox on a free port, with a minimal HTTP client over real sockets.
struct RunningSandbox: Sendable {
    let server: AffonsoSandboxServer
    let port: Int

    static let key = "sk_test_sandbox"

    /// Starts a sandbox on port 0 for the duration of `body`.
    static func with(
        _ configure: (inout SandboxConfiguration) -> Void = { _ in },
        _ body: (RunningSandbox) async throws -> Void
    ) async throws {
        var configuration = Seed.configuration()
        configure(&configuration)
        var logger = Logger(label: "sandbox-tests")
        logger.logLevel = .warning
        let server = try AffonsoSandboxServer(configuration: configuration, logger: logger)
        try await server.withRunning { port in
            try await body(RunningSandbox(server: server, port: port))
        }
    }

    /// `POST /v1/events` with a bearer key (nil: no Authorization header).
    func event(
        _ json: String, key: String? = RunningSandbox.key, timeout: Duration = .seconds(15)
    ) async throws
        -> SandboxReply
    {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await self.send("/v1/events", method: .post, headers: headers, body: json, timeout: timeout)
    }

    /// `POST /v1/conversions/{id}/refund` with a bearer key (nil: no Authorization header).
    func refund(_ conversionID: String, _ json: String, key: String? = RunningSandbox.key) async throws -> SandboxReply
    {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await self.send(
            "/v1/conversions/\(conversionID)/refund", method: .post, headers: headers, body: json)
    }

    /// Sends a conversion and returns its Affonso id (`data.id`).
    func convert(
        id: String, amount: String = "99", currency: String = "USD", customer: String = "cus_lead"
    ) async throws -> String {
        let reply = try await self.event(
            Body.conversion(#""customer_id":"\#(customer)""#, id: id, amount: amount, currency: currency))
        try #require(reply.status == 200, "the conversion was refused: \(reply.errorMessage)")
        return try #require(reply.data["id"].stringValue)
    }

    func get(_ path: String) async throws -> SandboxReply {
        try await self.send(path, method: .get, headers: [:], body: nil)
    }

    func post(_ path: String, _ json: String) async throws -> SandboxReply {
        try await self.send(path, method: .post, headers: [.contentType: "application/json"], body: json)
    }

    func send(
        _ path: String,
        method: HTTPRequest.Method,
        headers: HTTPFields,
        body: String?,
        timeout: Duration = .seconds(15)
    ) async throws -> SandboxReply {
        try await TestClient.withClient(host: "127.0.0.1", port: self.port, configuration: .init(timeout: timeout)) {
            client in
            let response = try await client.execute(
                TestClient.Request(
                    path,
                    method: method,
                    authority: "127.0.0.1",
                    headers: headers,
                    body: body.map { ByteBuffer(string: $0) }
                )
            )
            return SandboxReply(
                status: response.status.code,
                headers: response.headers,
                text: response.body.map { String(buffer: $0) } ?? ""
            )
        }
    }
}

extension JSONValue {
    subscript(key: String) -> JSONValue {
        if case .object(let object) = self { return object[key] ?? .null }
        return .null
    }

    subscript(index: Int) -> JSONValue {
        if case .array(let array) = self, array.indices.contains(index) { return array[index] }
        return .null
    }

    var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    var intValue: Int? { self.numberValue.map { Int($0) } }

    var arrayValue: [JSONValue] {
        if case .array(let array) = self { return array }
        return []
    }
}

/// JSON bodies for events.
enum Body {
    static func lead(_ identifiers: String = #""customer_id":"cus_lead""#, id: String? = nil) -> String {
        let external = id.map { #","external_event_id":"\#($0)""# } ?? ""
        return #"{"event_name":"signed_up","event_type":"lead",\#(identifiers)\#(external)}"#
    }

    static func trial(_ identifiers: String = #""customer_id":"cus_lead""#, id: String = "evt_trial") -> String {
        #"{"event_name":"trial_started","event_type":"trial",\#(identifiers),"external_event_id":"\#(id)"}"#
    }

    static func conversion(
        _ identifiers: String = #""customer_id":"cus_lead""#,
        id: String = "in_1",
        amount: String = "99",
        currency: String = "USD"
    ) -> String {
        #"{"event_name":"invoice_paid","event_type":"conversion",\#(identifiers),"external_event_id":"\#(id)","#
            + #""sale_amount":\#(amount),"sale_amount_currency":"\#(currency)","occurred_at":"2026-11-25T10:00:00Z"}"#
    }

    /// A refund body; `amount` is JSON text (nil: left out, a full refund).
    static func refund(
        id: String? = "re_1", amount: String? = nil, currency: String = "USD", reason: String? = nil
    ) -> String {
        var fields = [#""currency":"\#(currency)""#, #""refunded_at":"2026-11-30T09:12:00Z""#]
        if let id { fields.append(#""external_event_id":"\#(id)""#) }
        if let amount { fields.append(#""amount":\#(amount)"#) }
        if let reason { fields.append(#""reason":"\#(reason)""#) }
        return "{" + fields.joined(separator: ",") + "}"
    }
}
