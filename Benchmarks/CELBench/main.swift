// CEL benchmark: the SPEC.md §3 stripe rule (match, variables, event) over a ~2 KB invoice.paid payload.
// Run: swift build -c release --product CELBench && .build/release/CELBench

import CEL
import Foundation

let invoiceJSON = """
    {
      "id": "evt_1PqRsT2eZvKYlo2C8xYzAbCd",
      "object": "event",
      "api_version": "2024-06-20",
      "created": 1718035200,
      "livemode": true,
      "pending_webhooks": 1,
      "request": {"id": "req_9aBcDeFgHiJkLm", "idempotency_key": "2f7c1b9e-4d3a-4e8f-9b1c-7a6d5e4f3c2b"},
      "type": "invoice.paid",
      "data": {
        "object": {
          "id": "in_1PqRsT2eZvKYlo2CDeFgHiJk",
          "object": "invoice",
          "account_country": "DE",
          "account_name": "Example GmbH",
          "amount_due": 4900,
          "amount_paid": 4900,
          "amount_remaining": 0,
          "attempt_count": 1,
          "attempted": true,
          "billing_reason": "subscription_cycle",
          "collection_method": "charge_automatically",
          "created": 1718031600,
          "currency": "eur",
          "customer": "cus_QhIjKlMnOpQrSt",
          "customer_email": "jane.doe@example.com",
          "customer_name": "Jane Doe",
          "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1Example/test_YWNjdF8xRXhhbXBsZQ",
          "invoice_pdf": "https://pay.stripe.com/invoice/acct_1Example/test_YWNjdF8xRXhhbXBsZQ/pdf",
          "lines": {
            "object": "list",
            "data": [
              {
                "id": "il_1PqRsT2eZvKYlo2CaBcDeFgH",
                "object": "line_item",
                "amount": 4900,
                "currency": "eur",
                "description": "1 × Pro plan (at €49.00 / month)",
                "period": {"start": 1718031600, "end": 1720623600},
                "price": {"id": "price_1OaBcDeFgHiJkLmN", "object": "price", "unit_amount": 4900,
                          "recurring": {"interval": "month", "interval_count": 1}, "product": "prod_PqRsTuVwXyZ"},
                "quantity": 1,
                "type": "subscription"
              },
              {
                "id": "il_1PqRsT2eZvKYlo2CiJkLmNoP",
                "object": "line_item",
                "amount": 0,
                "currency": "eur",
                "description": "Seats (free tier)",
                "period": {"start": 1718031600, "end": 1720623600},
                "price": {"id": "price_1OqRsTuVwXyZaBcD", "object": "price", "unit_amount": 0,
                          "recurring": {"interval": "month", "interval_count": 1}, "product": "prod_SeAtS"},
                "quantity": 3,
                "type": "subscription"
              }
            ],
            "has_more": false,
            "total_count": 2
          },
          "metadata": {"affonso_referral": "ref_8f3a2c", "plan": "pro"},
          "number": "EXMPL-0042",
          "paid": true,
          "period_end": 1718031600,
          "period_start": 1715439600,
          "status": "paid",
          "subscription": "sub_1PqRsT2eZvKYlo2CqRsTuVwX",
          "subtotal": 4900,
          "tax": 0,
          "total": 4900
        }
      }
    }
    """

func celValue(_ object: Any) -> CELValue {
    switch object {
    case is NSNull: return .null
    case let number as NSNumber:
        let type = String(cString: number.objCType)
        if type == "c" || type == "B" { return .bool(number.boolValue) }
        if type == "d" || type == "f" { return .double(number.doubleValue) }
        return .int(number.int64Value)
    case let string as String: return .string(string)
    case let array as [Any]: return .list(array.map(celValue))
    case let dictionary as [String: Any]:
        return .map(CELMap(dictionary.sorted { $0.key < $1.key }.map { ($0.key, celValue($0.value)) }))
    default: return .null
    }
}

let payload = celValue(try! JSONSerialization.jsonObject(with: Data(invoiceJSON.utf8)))
let record = CELValue.map(
    CELMap([
        ("topic", .string("billing.stripe")), ("partition", .int(3)), ("offset", .int(1_234_567)),
        ("key", .string("cus_QhIjKlMnOpQrSt")), ("timestamp", .timestamp(CELTimestamp(seconds: 1_718_035_201))),
        ("headers", .map(CELMap([("content-type", .string("application/json"))]))),
    ])
)

let matchSource = "payload.type == 'invoice.paid' && payload.data.object.amount_paid > 0"
let variableSources = [("invoice", "payload.data.object")]
let eventSources: [(String, String)] = [
    ("event_name", "'invoice_paid'"),
    ("event_type", "'conversion'"),
    ("customer_id", "variables.invoice.customer"),
    ("sale_amount", "double(variables.invoice.amount_paid) / 100.0"),
    ("sale_amount_currency", "variables.invoice.currency.upperAscii()"),
    ("external_event_id", "payload.id"),
    ("occurred_at", "timestamp(payload.created)"),
    ("price_ids", "variables.invoice.lines.data.map(l, l.price.id)"),
    ("is_subscription", "has(variables.invoice.subscription)"),
    ("metadata", "{'stripe_invoice': variables.invoice.id}"),
]

struct CompiledRule {
    var match: CELProgram
    var variables: [(String, CELProgram)]
    var event: [(String, CELProgram)]
}

func compileRule() throws -> CompiledRule {
    let environment = CELEnvironment()
    return CompiledRule(
        match: try environment.compile(matchSource),
        variables: try variableSources.map { ($0.0, try environment.compile($0.1)) },
        event: try eventSources.map { ($0.0, try environment.compile($0.1)) }
    )
}

/// Evaluates the whole rule the way Rules does: match, then variables in order, then every event field.
func evaluate(_ rule: CompiledRule) throws -> CELMap? {
    var activation = CELActivation(["payload": payload, "record": record, "ce": .map(CELMap())])
    guard try rule.match.evaluate(activation) == .bool(true) else { return nil }
    var variables: [(String, CELValue)] = []
    for (name, program) in rule.variables {
        activation.variables["variables"] = .map(CELMap(variables))
        variables.append((name, try program.evaluate(activation)))
    }
    activation.variables["variables"] = .map(CELMap(variables))
    var event: [(String, CELValue)] = []
    event.reserveCapacity(rule.event.count)
    for (name, program) in rule.event { event.append((name, try program.evaluate(activation))) }
    return CELMap(event)
}

/// CPU time of this thread: the machine may be shared, so throughput is measured per CPU-second on one core.
func cpuNow() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func wallNow() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

let payloadBytes = invoiceJSON.utf8.count
let rule = try compileRule()
guard let sample = try evaluate(rule) else { fatalError("the stripe rule did not match its sample") }
print("payload: \(payloadBytes) bytes of JSON; event: \(CELValue.map(sample).typedJSONText)")

// Warm-up, then measure evaluations of the whole rule on this (single) thread.
for _ in 0..<10_000 { _ = try evaluate(rule) }
var best = 0.0
var bestWall = 0.0
for _ in 0..<5 {
    let iterations = 200_000
    let start = cpuNow()
    let wallStart = wallNow()
    for _ in 0..<iterations { _ = try evaluate(rule) }
    best = max(best, Double(iterations) / (cpuNow() - start))
    bestWall = max(bestWall, Double(iterations) / (wallNow() - wallStart))
}
print(
    String(
        format:
            "evaluate whole stripe rule (1 match + 1 variable + 10 event fields): %.0f rules/s per CPU-second "
            + "on one core (%.0f/s wall clock on this machine)",
        best,
        bestWall
    )
)

var compileBest = Double.infinity
for _ in 0..<5 {
    let start = cpuNow()
    for _ in 0..<100 { _ = try compileRule() }
    compileBest = min(compileBest, cpuNow() - start)
}
print(String(format: "compile 100 stripe rules (12 expressions each): %.2f ms CPU", compileBest * 1000))
