"""The sample stream and the summary of `make demo` (run by scripts/demo).

usage: demo.py produce          produce the sample stream to the example topics
       demo.py wait URL         wait until the relay drained everything (committed == end offsets, the late
                                referrals' events delivered), adding the late referrals on the way
       demo.py summary URL      print what happened, from /metrics, the sandbox and the broker
Reads KAFKA_BROKERS, AFFONSO_SANDBOX_URL and RELAY_GROUP from the environment.
"""

import copy
import json
import os
import sys
import time
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "examples", "fixtures")
BROKERS = os.environ["KAFKA_BROKERS"]
SANDBOX = os.environ["AFFONSO_SANDBOX_URL"]
GROUP = os.environ.get("RELAY_GROUP", "affonso-relay-demo")
SOURCES = {"billing.stripe": 3, "app.lifecycle": 3, "app.orders": 2, "identity.kyc.v2": 2}
RETRY = ["demo.retry.2s", "demo.retry.5s", "demo.retry.10s"]
ENDS = os.path.join(ROOT, ".tools", "demo-ends.json")
LATE = [{"id": "ref_late_%02d" % i, "affiliate_id": "aff_7Hq2KfPz", "customer_id": "cus_late_%02d" % i,
         "status": "lead"} for i in range(5)]


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as file:
        return json.load(file)


def seeded_identifiers():
    """Customer and user ids of the sandbox's seed referrals (examples/sandbox-referrals.yaml)."""
    customers, users = [], []
    with open(os.path.join(ROOT, "examples", "sandbox-referrals.yaml")) as file:
        for line in file:
            line = line.strip()
            if line.startswith("customer_id:"):
                customers.append(line.split(":", 1)[1].strip())
            elif line.startswith("external_user_id:"):
                users.append(line.split(":", 1)[1].strip())
    return customers, users


def produce():
    admin = AdminClient({"bootstrap.servers": BROKERS})
    for future in admin.create_topics([NewTopic(t, n, 1) for t, n in SOURCES.items()]).values():
        try:
            future.result()
        except Exception:  # already exists from an earlier demo
            pass
    # One record per batch: Tansu 0.6 reports a high watermark that counts batches, not records.
    producer = Producer({"bootstrap.servers": BROKERS, "enable.idempotence": True, "batch.num.messages": 1})
    customers, users = seeded_identifiers()
    counts = {}
    ends = {}

    def delivered(error, message):
        if error is None:
            key = f"{message.topic()}:{message.partition()}"
            ends[key] = max(ends.get(key, 0), message.offset() + 1)

    def send(topic, key, value, headers=None):
        body = value if isinstance(value, bytes) else json.dumps(value).encode()
        producer.produce(topic, key=key.encode(), value=body, headers=headers or [], on_delivery=delivered)
        counts[topic] = counts.get(topic, 0) + 1

    run = int(time.time())
    invoice = fixture("stripe-invoice-paid.json")
    for i in range(150):
        event = copy.deepcopy(invoice)
        customer = customers[i % len(customers)]
        event["id"] = f"evt_demo_{run}_{i}"
        event["data"]["object"]["id"] = f"in_demo_{run}_{i}"
        event["data"]["object"]["payment_intent"] = f"pi_demo_{run}_{i}"  # the conversion's external_event_id
        event["data"]["object"]["customer"] = customer
        event["data"]["object"]["amount_paid"] = 1900 + 100 * (i % 30)
        send("billing.stripe", customer, event)
    for i, late in enumerate(LATE * 2):  # their referrals are added only after the relay first fails on them
        event = copy.deepcopy(invoice)
        event["id"] = f"evt_demo_late_{run}_{i}"
        event["data"]["object"]["payment_intent"] = f"pi_demo_late_{run}_{i}"
        event["data"]["object"]["customer"] = late["customer_id"]
        send("billing.stripe", late["customer_id"], event)
    # One refund: the first invoice's charge is refunded in full (its commission is taken back).
    refund = fixture("stripe-charge-refunded-full.json")
    refund["id"] = f"evt_demo_refund_{run}_0"
    refund["data"]["object"]["payment_intent"] = f"pi_demo_{run}_0"
    refund["data"]["object"]["customer"] = customers[0]
    send("billing.stripe", customers[0], refund)
    trial = fixture("stripe-subscription-created-trial.json")
    for i in range(20):
        event = copy.deepcopy(trial)
        customer = customers[i % len(customers)]
        event["id"] = f"evt_demo_trial_{run}_{i}"
        event["data"]["object"]["customer"] = customer
        send("billing.stripe", customer, event)
    signup = fixture("app-user-signed-up.json")
    for i in range(60):
        event = copy.deepcopy(signup)
        user = users[i % len(users)]
        event["event_id"] = f"signup-{run}-{i}"
        event["user"]["id"] = user
        event["user"]["referral"] = {"landing_page": "/pricing"}
        send("app.lifecycle", user, event)
    kyc = fixture("kyc-passed.data.json")
    for i in range(40):
        user = users[i % len(users)]
        headers = [("ce_specversion", b"1.0"), ("ce_id", f"kyc-{run}-{i}".encode()),
                   ("ce_source", b"/kyc/onfido"), ("ce_type", b"com.example.kyc.passed"),
                   ("ce_subject", user.encode()), ("ce_time", b"2026-11-25T14:20:05Z"),
                   ("content-type", b"application/json")]
        send("identity.kyc.v2", user, dict(kyc, user_id=user), headers)
    order = fixture("order-completed.cloudevent.json")
    for i in range(20):
        event = copy.deepcopy(order)
        user = users[i % len(users)]
        event["id"] = f"ord-evt-{run}-{i}"
        event["data"]["user_id"] = user
        event["data"].pop("affonso_click_id", None)
        send("app.orders", user, event, [("content-type", b"application/cloudevents+json")])
    # Poison: not JSON, too large, a mapping error (no customer), a contract violation (bad currency).
    send("billing.stripe", "poison", b"{\"type\": \"invoice.paid\", oops")
    send("billing.stripe", "poison", {"type": "invoice.paid", "pad": "x" * 70000})
    broken = copy.deepcopy(invoice)
    broken["id"] = f"evt_demo_nocustomer_{run}"
    del broken["data"]["object"]["customer"]
    send("billing.stripe", "poison", broken)
    invalid = copy.deepcopy(invoice)
    invalid["id"] = f"evt_demo_badcurrency_{run}"
    invalid["data"]["object"]["currency"] = "dollars"
    send("billing.stripe", "poison", invalid)
    producer.flush(30)
    with open(ENDS, "w") as file:
        json.dump(ends, file)
    total = sum(counts.values())
    print(f"demo: produced {total} records: " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def committed_offsets():
    """(topic, partition) -> (committed, end) for the source partitions, with the ends `produce` recorded."""
    with open(ENDS) as file:
        ends = {tuple(key.split(":")): end for key, end in json.load(file).items()}
    consumer = Consumer({"bootstrap.servers": BROKERS, "group.id": GROUP, "enable.auto.commit": False})
    try:
        parts = [TopicPartition(topic, int(partition)) for topic, partition in ends]
        committed = {(p.topic, p.partition): max(p.offset, 0) for p in consumer.committed(parts, timeout=10)}
    finally:
        consumer.close()
    return {(t, int(p)): (committed.get((t, int(p)), 0), end) for (t, p), end in ends.items()}


def wait(metrics_url):
    started = time.time()
    added = False
    while time.time() - started < 150:
        stats = json.loads(get(f"{SANDBOX}/_sandbox/stats"))
        if not added and stats.get("by_status", {}).get("404", 0) >= len(LATE):
            for referral in LATE:
                request = urllib.request.Request(f"{SANDBOX}/_sandbox/referrals", data=json.dumps(referral).encode(),
                                                 headers={"Content-Type": "application/json"}, method="POST")
                urllib.request.urlopen(request, timeout=5).read()
            print(f"demo: added {len(LATE)} referrals the relay had not found ({time.time() - started:.0f}s)")
            added = True
        ledger = json.loads(get(f"{SANDBOX}/_sandbox/ledger"))
        late_done = sum(1 for e in ledger["entries"] if str(e.get("external_event_id")).startswith("pi_demo_late_"))
        try:
            values = metric_lines(metrics_url)
        except urllib.error.URLError:
            # The relay is still starting (its HTTP server listens once its configuration is checked).
            time.sleep(1)
            continue
        idle = values.get("affonso_relay_in_flight", 1) == 0 and values.get("affonso_relay_paused_partitions", 1) == 0
        drained = all(committed == end for committed, end in committed_offsets().values())
        if added and drained and idle and late_done >= len(LATE) * 2:
            print(f"demo: drained after {time.time() - started:.0f}s")
            return
        time.sleep(1)
    print("demo: not drained after 150s; the summary shows where it stands")


def metric_lines(metrics_url):
    values = {}
    for line in get(metrics_url).splitlines():
        if line.startswith("#") or not line.startswith("affonso_relay_"):
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values


def total(values, prefix):
    return {name[len(prefix):]: int(v) for name, v in values.items() if name.startswith(prefix)}


def summary(metrics_url):
    values = metric_lines(metrics_url)
    print("\n== affonso-relay demo summary")
    consumed = total(values, "affonso_relay_records_consumed_total")
    print(f"consumed:       {sum(consumed.values())} records")
    for labels, n in sorted(consumed.items()):
        print(f"                {n:5d} {labels}")
    for title, prefix in [("delivered", "affonso_relay_events_delivered_total"),
                          ("retried", "affonso_relay_retried_total"),
                          ("dead-lettered", "affonso_relay_dead_lettered_total"),
                          ("skipped", "affonso_relay_skipped_total"),
                          ("API responses", "affonso_relay_api_responses_total")]:
        rows = total(values, prefix)
        print(f"{title + ':':15} {sum(rows.values())}")
        for labels, n in sorted(rows.items()):
            print(f"                {n:5d} {labels}")
    print("committed vs end offsets:")
    for (topic, partition), (committed, end) in sorted(committed_offsets().items()):
        mark = "ok" if committed == end else "BEHIND"
        print(f"                {topic}[{partition}]: committed {committed} / end {end} {mark}")
    stats = json.loads(get(f"{SANDBOX}/_sandbox/stats"))
    print("sandbox ledger: " + json.dumps({k: stats[k] for k in stats if k in (
        "accepted", "replays", "commissions", "refunds", "by_event_type", "by_status")}))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "produce":
        produce()
    elif command == "wait":
        wait(sys.argv[2])
    elif command == "summary":
        summary(sys.argv[2])
