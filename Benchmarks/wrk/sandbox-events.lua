-- wrk script for scripts/bench.d/30-sandbox: realistic POST /v1/events bodies against the sandbox.
-- Every request is a new conversion (unique external_event_id) for one of the seed referrals, so the
-- sandbox validates, resolves, creates a commission and stores it: its full hot path, no replays.
-- Every tenth request is a trial event. Requires examples/sandbox-referrals.yaml loaded by the sandbox.

local customers = {}
local counter = 0
thread_id = 0
local threads = {}

function setup(thread)
    thread:set("thread_id", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    -- external_user_id values from examples/sandbox-referrals.yaml
    customers = {
        "usr_olivia_1000", "usr_liam_1037", "usr_emma_1074", "usr_noah_1111", "usr_ava_1148",
        "usr_mateo_1185", "usr_sofia_1222", "usr_lucas_1259", "usr_mia_1296", "usr_leo_1333",
        "usr_chloe_1370", "usr_arjun_1407", "usr_yuki_1444", "usr_amara_1481", "usr_jonas_1518",
        "usr_ines_1555", "usr_kai_1592", "usr_zara_1629", "usr_felix_1666", "usr_nora_1703",
    }
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer sk_test_sandbox"
end

function request()
    counter = counter + 1
    local user = customers[(counter % #customers) + 1]
    local body
    if counter % 10 == 0 then
        body = string.format(
            '{"event_name":"trial_started","event_type":"trial","external_user_id":"%s",' ..
            '"external_event_id":"trial_%d_%d","occurred_at":"2026-11-25T10:15:30Z",' ..
            '"metadata":{"plan":"pro","source":"billing.subscription.created"}}',
            user, thread_id, counter)
    else
        body = string.format(
            '{"event_name":"invoice_paid","event_type":"conversion","external_user_id":"%s",' ..
            '"external_event_id":"in_%d_%d","occurred_at":"2026-11-25T10:15:30.250Z",' ..
            '"sale_amount":99.00,"sale_amount_currency":"USD","product_ids":["prod_Pro"],' ..
            '"price_ids":["price_ProMonthly"],"interval":"monthly","is_subscription":true,' ..
            '"metadata":{"invoice":"in_1QxA2b","plan":"pro","seats":3}}',
            user, thread_id, counter)
    end
    return wrk.format(nil, "/v1/events", nil, body)
end

local statuses = {}

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local non2xx = summary.errors.status
    io.write(string.format("sandbox: %d requests, %d non-2xx, %d socket errors\n", summary.requests, non2xx,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
