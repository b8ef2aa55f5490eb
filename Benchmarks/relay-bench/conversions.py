"""How long a relay takes to read a conversions topic of N conversions at start-up, and its memory then.

Produces N conversion memories (the records the relay writes for refunds) to `<group>.conversions` on the stack's
broker, starts the release relay with a refund rule (so it reads that topic into its index), and waits for its
log line `conversions topic read: N conversions known`. Prints the time to it (the relay declares the topic read
after 3 s without a new record: that is included, and shown) and the relay's VmRSS and VmHWM then.
Env: KAFKA_BROKERS (from .tools/stack.env), RELAY_CONVERSIONS (1000000), LD_LIBRARY_PATH (.tools/lib).
"""
import json, os, re, signal, subprocess, sys, tempfile, time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.path.join(ROOT, ".build", "release", "affonso-relay")


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main():
    brokers = os.environ["KAFKA_BROKERS"]
    count = int(os.environ.get("RELAY_CONVERSIONS", "1000000"))
    run = int(time.time())
    group = f"bench.conversions.{run}.group"
    source = f"bench.conversions.{run}.billing"
    admin = AdminClient({"bootstrap.servers": brokers})
    topics = [NewTopic(source, 1, 1),
              NewTopic(f"{group}.conversions", 3, 1, config={"cleanup.policy": "compact,delete"})]
    for future in admin.create_topics(topics).values():
        future.result()
    producer = Producer({"bootstrap.servers": brokers, "linger.ms": 20, "batch.num.messages": 10000,
                         "queue.buffering.max.messages": 500000})
    started = time.time()
    for i in range(count):
        value = json.dumps({"conversion_id": f"com_bench{i:019d}", "amount": 19.0 + i % 100, "currency": "USD",
                            "remembered_at": "2026-12-01T00:00:00Z"})
        while True:
            try:
                producer.produce(f"{group}.conversions", key=f"pi_bench_{i:012d}", value=value)
                break
            except BufferError:
                producer.poll(0.1)
        if i % 10000 == 0:
            producer.poll(0)
    producer.flush(120)
    print(f"conversions: produced {count} conversion records in {time.time() - started:.1f} s")

    directory = tempfile.mkdtemp(prefix="relay-conversions-")
    config = os.path.join(directory, "relay.yaml")
    with open(config, "w") as file:
        file.write(f"""kafka:
  brokers: ["{brokers}"]
  group_id: {group}
  topics: ["{source}"]
  client_properties: {{session.timeout.ms: "6000", heartbeat.interval.ms: "500"}}
affonso: {{base_url: "http://127.0.0.1:9", api_key: sk_test_unused, plan: unlimited}}
retry:
  tiers: [{{topic: {group}.retry.30s, delay: 30s}}]
  dead_letter_topic: {group}.dlq
server: {{listen: "127.0.0.1:0"}}
logging: {{level: info, format: json}}
rules:
  - name: refunds
    topics: ["{source}"]
    refund: {{conversion: "payload.invoice", currency: "'USD'", external_event_id: "payload.id"}}
""")
    log_path = os.path.join(directory, "relay.log")
    with open(log_path, "w") as log:
        started = time.time()
        relay = subprocess.Popen([BINARY, "run", "--config", config], stdout=log, stderr=log)
    pattern = re.compile(r"conversions topic read: (\d+) conversions known")
    known = None
    try:
        while time.time() - started < 600 and relay.poll() is None:
            with open(log_path) as log:
                match = pattern.search(log.read())
            if match:
                known = int(match.group(1))
                break
            time.sleep(0.2)
        elapsed = time.time() - started
        if known is None:
            sys.exit(f"conversions: the relay did not report the topic read within {elapsed:.0f} s; see {log_path}")
        rss, hwm = status_kb(relay.pid, "VmRSS"), status_kb(relay.pid, "VmHWM")
        print(f"conversions: {known} conversions known {elapsed:.1f} s after start (3 s of it the quiet that ends "
              f"the read); VmRSS {rss // 1024} MiB, VmHWM {hwm // 1024} MiB")
        print(f"RESULT conversions_known={known}")
        print(f"RESULT conversions_startup_seconds={elapsed:.1f}")
        print(f"RESULT conversions_peak_rss_mib={hwm // 1024}")
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(30)


if __name__ == "__main__":
    main()
