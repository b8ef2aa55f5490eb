"""The relay benchmarks of `make bench` (issue 6), driven against the release `affonso-relay`.

usage: relaybench.py throughput | latency | rate-limit | compare | large-records | fleet | sink | client-sink

Each command starts its own release sandbox (`affonso-relay sandbox`, on a free port, with flags of its
own), creates fresh topics on the broker of KAFKA_BROKERS, produces Stripe `invoice.paid` records, runs
`affonso-relay run` on a generated relay.yaml (the rule in rules/, `max_in_flight: 64`, `ordering: key`)
and measures what the sandbox acknowledged. It prints `relay-bench: …` lines and `RESULT name=value` lines.

- throughput  (a) a backlog of RELAY_BENCH_EVENTS (100,000) records, sandbox without limits or latency:
              events/s, peak RSS and CPU of the relay; then a steady stream of RELAY_BENCH_LIVE_RATE
              records/s (2,000) for RELAY_BENCH_LIVE_SECONDS (15) into the caught-up relay: produce→ack
              latency p50/p99.
- latency     (b) sandbox latency 50 ms ± 10 ms, RELAY_BENCH_LATENCY_EVENTS (25,000) records: events/s
              against max_in_flight / latency = 64 / 0.05 s = 1,280/s.
- rate-limit  (c) sandbox and relay on plan growth (600/min) with a backlog, for RELAY_BENCH_RATE_SECONDS
              (180): events acknowledged in that window against the 600/min allowed, and the 429s.
- compare     (d) the Swift relay and Benchmarks/python-relay/relay.py over the same topic (a fresh group
              per run), the same sandbox (reset between runs): RELAY_BENCH_COMPARE_EVENTS (50,000) records,
              RELAY_BENCH_COMPARE_ROUNDS (3) rounds of Swift then Python; the ratio of the medians.
- fleet       (issue 15) relay processes of one group on plan growth (600/min, burst 20), scope fleet; the
              RELAY_BENCH_FLEET scenarios (all by default): `even` 3 replicas, an even backlog, over
              RELAY_BENCH_FLEET_SECONDS (90): % of the plan, 429s; `leave` SIGTERM to 2 of 3: seconds until
              every 10 s span holds >= 97 % of the plan; `skewed` the whole backlog on one partition: % of the
              plan, 429s after the first 10 s; `scale-up` 1 replica, then 3: 429s in all, % of the plan and
              its lowest 10 s span. Counts from the sandbox's ledger; the 429s' times from its stats, polled.
- sink        the headline benchmark (issue 14): nginx answering every POST /v1/events with a fixed success
              envelope instead of the sandbox, wrk for the loopback ceiling of the same request, then the
              release relay and the Python relay on RELAY_SINK_RECORDS (200,000) `order.paid` records keyed by
              400 customers over 4 partitions (sink-rules/order-paid.yaml): events/s, CPU µs per event, peak
              RSS, ratios. Counts from nginx's access log. Then produce→ack of each Swift relay on a steady
              RELAY_SINK_LIVE_RATE (2,000) records/s for RELAY_SINK_LIVE_SECONDS (5) against the same kind of
              sink (`sink_latency`). More in `sink`'s docstring.
- client-sink AffonsoClient alone (`AffonsoBench client`, concurrency 64) against the same nginx sink, to
              compare HTTP transports without Kafka and the relay; see `client_sink`'s docstring.
- large-records  RELAY_BENCH_LARGE_RECORDS (300) records of RELAY_BENCH_LARGE_BYTES (900,000) bytes, one key,
              sandbox latency 300 ms: the relay's RSS as they pass and its peak, against the 256 MiB pod limit.

How things are measured:
- Events/s: from the sandbox ledger (GET /_sandbox/ledger), (events − 1) / (last accepted_at − first
  accepted_at): the relay's steady delivery rate, without process start and the group join (about 3 s
  with Tansu), the same way for the Swift and the Python relay.
- produce→ack: from the record's Kafka timestamp (CreateTime, set by the producer when `produce()` is
  called, read back from the delivery report) to the event's `accepted_at` in the sandbox ledger (when
  the sandbox accepted and stored it, just before it answers the relay). Both are wall-clock
  milliseconds on this machine, so each latency is exact to about ±1 ms. It includes the producer's
  batching (linger.ms 1), the broker, the relay's fetch, mapping and dispatch, and the HTTP request.
- Peak RSS: VmHWM of /proc/<relay pid>/status before the relay is stopped. CPU: utime + stime of the
  process from /proc/<pid>/stat.
- Relay settings: the generated relay.yaml below; `fetch.wait.max.ms: "10"` because Tansu answers a fetch only
  after fetch.wait.max.ms (default 500 ms) even when records arrive meanwhile, where Kafka answers at once;
  the Python baseline gets the same consumer settings. RELAY_BENCH_MAX_IN_FLIGHT changes max_in_flight in (a);
  RELAY_BENCH_CLIENT_PROPERTIES (`name=value,…`) adds librdkafka properties to the Swift relay's,
  RELAY_BENCH_DELIVERY (`name=value,…`) `delivery:` settings, RELAY_BENCH_LOG_LEVEL its log level (warning).
Every event names one of RELAY_BENCH_CUSTOMERS (2,000) customers, each seeded as a referral in the
sandbox, so every event succeeds on the first attempt; records are keyed by customer, so key-ordered
dispatch has enough distinct keys to keep 64 requests in flight.
"""

import atexit
import calendar
import json
import os
import random
import re
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "Benchmarks", "relay-bench")
BINARY = os.path.join(ROOT, ".build", "release", "affonso-relay")
PYTHON_RELAY = os.path.join(ROOT, "Benchmarks", "python-relay", "relay.py")
FIXTURE = os.path.join(ROOT, "examples", "fixtures", "stripe-invoice-paid.json")
API_KEY = "sk_test_sandbox"
MAX_IN_FLIGHT = 64
PARTITIONS = 6
CUSTOMERS = int(os.environ.get("RELAY_BENCH_CUSTOMERS", "2000"))
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def say(message):
    print(f"relay-bench: {message}", flush=True)


def fail(message):
    print(f"relay-bench: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def env_int(name, default):
    value = os.environ.get(name, str(default))
    try:
        return int(value)
    except ValueError:
        fail(f"{name}={value!r}: must be a whole number")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url, method="GET"):
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with OPENER.open(request, timeout=60) as response:
        return json.loads(response.read())


def milliseconds(rfc3339):
    """`2026-11-25T17:50:16.123Z` → Unix milliseconds (exact, no float rounding)."""
    date, clock = rfc3339.rstrip("Z").split("T")
    year, month, day = (int(part) for part in date.split("-"))
    hour, minute, second = clock.split(":")
    whole, _, fraction = second.partition(".")
    seconds = calendar.timegm((year, month, day, int(hour), int(minute), int(whole), 0, 0, 0))
    return seconds * 1000 + int((fraction + "000")[:3])


def load_average():
    with open("/proc/loadavg") as file:
        return " ".join(file.read().split()[:3])


# MARK: - Processes


def cpu_seconds(pid, system_only=False):
    """CPU time (user + system, or system alone) a process used so far, or NaN when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
        return (int(fields[12]) + (0 if system_only else int(fields[11]))) / CLOCK_TICKS
    except (OSError, ValueError):
        return float("nan")


def thread_cpu_seconds(pid):
    """CPU seconds (user + system) by thread name, summed over the threads of that name; {} when the process is
    gone. Threads that ended are not counted (their time is in the process's total only)."""
    by_name = {}
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/stat") as file:
                text = file.read()
            name = text[text.index("(") + 1:text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            by_name[name] = by_name.get(name, 0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, ValueError):
        pass
    return by_name


def broker_pid():
    """The Tansu broker's pid from scripts/stack, if it runs here."""
    try:
        with open(os.path.join(ROOT, ".tools", "run", "tansu.pid")) as file:
            return int(file.read().strip())
    except (OSError, ValueError):
        return None


RUNNING = []


def stop_all():
    """Stops whatever this driver started and is still running (on failure or interrupt)."""
    for process in RUNNING:
        if process.alive():
            process.process.kill()
            process.process.wait()


atexit.register(stop_all)
TEMPORARY_FILES = []


@atexit.register
def remove_temporary_files():
    for path in TEMPORARY_FILES:
        try:
            os.remove(path)
        except OSError:
            pass


class Process:
    """A child process with its log file; `cpu_seconds` and `peak_rss_mb` read /proc."""

    def __init__(self, name, arguments, environment=None):
        self.name = name
        self.log_path = os.path.join(tempfile.gettempdir(), f"relay-bench-{name}-{os.getpid()}.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(arguments, stdout=self.log, stderr=subprocess.STDOUT,
                                        env=environment or os.environ.copy())
        self.started = time.monotonic()
        RUNNING.append(self)

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process.poll() is None

    def cpu_seconds(self):
        return cpu_seconds(self.pid)

    def peak_rss_mb(self):
        return self.status_mb("VmHWM")

    def rss_mb(self):
        return self.status_mb("VmRSS")

    def status_mb(self, field):
        """A memory field of /proc/<pid>/status (kB there) in MB; NaN once the process is gone."""
        try:
            with open(f"/proc/{self.pid}/status") as file:
                for line in file:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def tail(self, lines=20):
        self.log.flush()
        with open(self.log_path) as file:
            return "".join(file.readlines()[-lines:])

    def stop(self, grace=30):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                say(f"{self.name} did not stop within {grace} s of SIGTERM; killing it")
                self.process.kill()
                self.process.wait()
        self.log.close()

    def remove_log(self):
        try:
            os.remove(self.log_path)
        except OSError:
            pass


class Sandbox:
    """A release `affonso-relay sandbox` on a free port, seeded with the benchmark's referrals."""

    def __init__(self, *flags):
        seed = os.path.join(tempfile.gettempdir(), f"relay-bench-referrals-{os.getpid()}.json")
        TEMPORARY_FILES.append(seed)
        with open(seed, "w") as file:
            json.dump({
                "affiliates": [{"id": "aff_bench_1", "commission_rate": 0.3}],
                "referrals": [{"id": f"ref_bench_{i:05d}", "affiliate_id": "aff_bench_1",
                               "customer_id": customer(i), "status": "lead"} for i in range(CUSTOMERS)],
            }, file)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.flags = " ".join(flags)
        self.process = Process("sandbox", [BINARY, "sandbox", "--port", str(port), "--referrals", seed,
                                           "--log-level", "warning", *flags])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not self.process.alive():
                fail(f"the sandbox exited during start-up:\n{self.process.tail()}")
            try:
                self.stats()
                break
            except OSError:
                time.sleep(0.1)
        else:
            fail(f"the sandbox did not answer within 30 s:\n{self.process.tail()}")

    def stats(self):
        return http_json(self.url + "/_sandbox/stats")

    def accepted(self):
        return self.stats()["accepted"]

    def ledger_times(self):
        """external_event_id → accepted_at (Unix ms) of every ledger entry."""
        ledger = http_json(self.url + "/_sandbox/ledger")
        return {entry["external_event_id"]: milliseconds(entry["accepted_at"]) for entry in ledger["entries"]}

    def reset(self):
        http_json(self.url + "/_sandbox/reset", method="POST")

    def stop(self):
        self.process.stop()
        self.process.remove_log()


def customer(index):
    return f"cus_bench_{index:05d}"


# MARK: - Kafka


def create_topic(topic, partitions=PARTITIONS):
    admin = AdminClient({"bootstrap.servers": os.environ["KAFKA_BROKERS"]})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result()


def record_template():
    """The invoice.paid fixture as compact JSON with %-placeholders for the per-record values."""
    with open(FIXTURE) as file:
        payload = json.load(file)
    payload["id"] = "@ID@"
    invoice = payload["data"]["object"]
    invoice["id"] = "@INVOICE@"
    invoice["customer"] = "@CUSTOMER@"
    invoice["amount_paid"] = invoice["amount_due"] = invoice["total"] = invoice["subtotal"] = 123456789
    text = json.dumps(payload, separators=(",", ":")).replace("%", "%%")
    return (text.replace('"@ID@"', '"%(id)s"').replace('"@INVOICE@"', '"%(invoice)s"')
            .replace('"@CUSTOMER@"', '"%(customer)s"').replace("123456789", "%(amount)d"))


class RecordProducer:
    """Produces benchmark records; remembers each record's Kafka timestamp (CreateTime, ms) by event id."""

    def __init__(self, topic, run, linger_ms):
        self.topic = topic
        self.run = run
        self.template = record_template()
        self.timestamps = {}
        self.acknowledged = {}  # event id → wall-clock ms at which its delivery report was served (poll)
        self.failed = 0
        self.producer = Producer({"bootstrap.servers": os.environ["KAFKA_BROKERS"], "linger.ms": linger_ms,
                                  "batch.size": 1000000, "queue.buffering.max.messages": 1000000,
                                  "acks": "all", "log_level": 4})

    def event_id(self, sequence):
        return f"evt_{self.run}_{sequence:07d}"

    def record(self, sequence):
        """The event id, key and value of record `sequence`."""
        event_id = self.event_id(sequence)
        key = customer(sequence % CUSTOMERS)
        value = self.template % {"id": event_id, "invoice": f"in_{self.run}_{sequence}", "customer": key,
                                 "amount": 1000 + sequence % 9000}
        return event_id, key, value

    def produce(self, sequence, remember=False, partition=None):
        event_id, key, value = self.record(sequence)

        def delivered(error, message):
            if error is not None:
                self.failed += 1
            elif remember:
                self.timestamps[event_id] = message.timestamp()[1]
                self.acknowledged[event_id] = time.time() * 1000

        while True:
            try:
                if partition is None:
                    self.producer.produce(self.topic, key=key.encode(), value=value.encode(), on_delivery=delivered)
                else:
                    self.producer.produce(self.topic, key=key.encode(), value=value.encode(), partition=partition,
                                          on_delivery=delivered)
                return
            except BufferError:
                self.producer.poll(0.05)

    def backlog(self, count, first=0, partition=None):
        start = time.monotonic()
        for sequence in range(first, first + count):
            self.produce(sequence, partition=partition)
            if sequence % 10000 == 0:
                self.producer.poll(0)
        self.flush()
        return time.monotonic() - start

    def steady(self, rate, seconds, first):
        """`rate` records/s for `seconds`, in 5 ms ticks; returns how many it produced."""
        start = time.monotonic()
        produced = 0
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= seconds:
                break
            due = min(int(elapsed * rate) + 1, int(seconds * rate))
            while produced < due:
                self.produce(first + produced, remember=True)
                produced += 1
            self.producer.poll(0)
            time.sleep(0.005)
        self.flush()
        return produced

    def flush(self):
        left = self.producer.flush(120)
        if left or self.failed:
            fail(f"{left + self.failed} records were not delivered to {self.topic}")


# MARK: - Relays


def relay_config(run, topic, group, sandbox, plan="unlimited", max_in_flight=MAX_IN_FLIGHT, max_record_bytes=65536,
                 rules=os.path.join(HERE, "rules", "*.yaml"), retry_prefix="bench.relay", name="", listen=None,
                 log_level=os.environ.get("RELAY_BENCH_LOG_LEVEL", "warning")):
    path = os.path.join(tempfile.gettempdir(), f"relay-bench-{run}{name}.yaml")
    TEMPORARY_FILES.append(path)
    with open(path, "w") as file:
        file.write(f"""# Generated by Benchmarks/relay-bench/relaybench.py
kafka:
  brokers: ["{os.environ['KAFKA_BROKERS']}"]
  group_id: {group}
  topics: ["{topic}"]
  max_record_bytes: {max_record_bytes}
  client_properties: {{session.timeout.ms: "6000", heartbeat.interval.ms: "500", fetch.wait.max.ms: "10"{extra_properties()}}}
affonso:
  base_url: {sandbox.url}
  api_key: ${{AFFONSO_API_KEY}}
  plan: {plan}
  timeout: 10s
delivery:
  max_in_flight: {max_in_flight}
  ordering: key
  in_process_attempts: 3
  unmatched: skip
  referral_not_found: retry{extra_delivery()}
retry:
  tiers:
    - {{topic: {retry_prefix}.{run}.retry.1s, delay: 1s}}
  max_attempts: 3
  dead_letter_topic: {retry_prefix}.{run}.dlq
  create_topics: true
server:
  listen: 127.0.0.1:{listen or free_port()}
  shutdown_grace: 10s
logging: {{level: {log_level}, format: json}}
rule_files: ["{rules}"]
""")
    return path


def extra_properties():
    """More librdkafka properties for the Swift relay from RELAY_BENCH_CLIENT_PROPERTIES (`name=value,…`)."""
    text = os.environ.get("RELAY_BENCH_CLIENT_PROPERTIES", "").strip()
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(pair) != 2 for pair in pairs):
        fail(f"RELAY_BENCH_CLIENT_PROPERTIES={text!r}: write name=value pairs separated by commas")
    return "".join(f', {name.strip()}: "{value.strip()}"' for name, value in pairs)


def extra_delivery():
    """More `delivery:` settings for the Swift relay from RELAY_BENCH_DELIVERY (`name=value,…`, e.g.
    `max_buffered_bytes=16777216`)."""
    text = os.environ.get("RELAY_BENCH_DELIVERY", "").strip()
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(pair) != 2 for pair in pairs):
        fail(f"RELAY_BENCH_DELIVERY={text!r}: write name=value pairs separated by commas")
    return "".join(f"\n  {name.strip()}: {value.strip()}" for name, value in pairs)


def start_swift_relay(config, name="relay", binary=BINARY, wrapper=()):
    environment = os.environ.copy()
    environment["AFFONSO_API_KEY"] = API_KEY
    return Process(name, [*wrapper, binary, "run", "--config", config], environment)


def start_python_relay(topic, group, sandbox, records, mapping="stripe"):
    python = os.path.join(ROOT, ".tools", "venv", "bin", "python")
    return Process("python-relay", [python, PYTHON_RELAY, "--brokers", os.environ["KAFKA_BROKERS"],
                                    "--topic", topic, "--group", group, "--url", sandbox.url,
                                    "--api-key", API_KEY, "--records", str(records),
                                    "--concurrency", str(MAX_IN_FLIGHT), "--mapping", mapping])


def wait_accepted(sandbox, relay, expected, stall_seconds=60):
    """Waits until the sandbox accepted `expected` events; fails if the relay dies or nothing moves."""
    last, last_change = -1, time.monotonic()
    while True:
        accepted = sandbox.accepted()
        if accepted >= expected:
            return
        if accepted != last:
            last, last_change = accepted, time.monotonic()
        if relay.process.poll() not in (None, 0):
            fail(f"{relay.name} exited with {relay.process.returncode} after {accepted} of {expected} events:\n"
                 f"{relay.tail()}")
        if time.monotonic() - last_change > stall_seconds:
            fail(f"{relay.name}: no progress for {stall_seconds} s at {accepted} of {expected} events "
                 f"(sandbox {sandbox.stats()}):\n{relay.tail()}")
        time.sleep(0.1)


def delivery_rate(times):
    """(events − 1) / (last − first accepted_at), and the window in seconds."""
    first, last = min(times), max(times)
    seconds = max(last - first, 1) / 1000
    return (len(times) - 1) / seconds, seconds


def non_2xx(stats):
    return {status: count for status, count in stats["by_status"].items() if not status.startswith("2")}


# MARK: - (a) throughput and latency


def throughput():
    events = env_int("RELAY_BENCH_EVENTS", 100000)
    live_rate = env_int("RELAY_BENCH_LIVE_RATE", 2000)
    live_seconds = env_int("RELAY_BENCH_LIVE_SECONDS", 15)
    run = f"{int(time.time())}{random.randrange(1000):03d}"
    topic = f"bench.relay.{run}.source"
    sandbox = Sandbox("--plan", "unlimited")
    try:
        create_topic(topic)
        producer = RecordProducer(topic, run, linger_ms=20)
        seconds = producer.backlog(events)
        say(f"(a) produced {events} records ({len(producer.template) + 60} bytes each, keyed by {CUSTOMERS} "
            f"customers) to {topic} ({PARTITIONS} partitions) in {seconds:.1f} s; load average {load_average()}")
        in_flight = env_int("RELAY_BENCH_MAX_IN_FLIGHT", MAX_IN_FLIGHT)
        relay = start_swift_relay(relay_config(run, topic, f"bench.relay.{run}", sandbox, max_in_flight=in_flight))
        broker = broker_pid()
        sandbox_cpu, broker_cpu = sandbox.process.cpu_seconds(), cpu_seconds(broker)
        wait_accepted(sandbox, relay, events)
        drained = time.monotonic() - relay.started
        relay_cpu, sandbox_cpu = relay.cpu_seconds(), sandbox.process.cpu_seconds() - sandbox_cpu
        broker_cpu = cpu_seconds(broker) - broker_cpu
        backlog_rss = relay.peak_rss_mb()
        times = list(sandbox.ledger_times().values())
        rate, window = delivery_rate(times)
        say(f"(a) backlog, max_in_flight {in_flight}: {events} events acknowledged {window:.2f} s after the first one = {rate:,.0f} events/s "
            f"({drained:.1f} s from process start, group join included); relay CPU {relay_cpu:.1f} s "
            f"({relay_cpu / events * 1e6:.0f} µs/event), sandbox CPU {sandbox_cpu:.1f} s, broker CPU {broker_cpu:.1f} s; "
            f"peak RSS "
            f"{backlog_rss:.0f} MB; load average {load_average()}")

        # Steady stream into the caught-up relay: produce→ack latency.
        live = RecordProducer(topic, run, linger_ms=1)
        produced = live.steady(live_rate, live_seconds, first=events)
        wait_accepted(sandbox, relay, events + produced)
        ledger = sandbox.ledger_times()
        latencies = sorted(ledger[event_id] - produced_at for event_id, produced_at in live.timestamps.items())
        peak_rss = relay.peak_rss_mb()
        stats = sandbox.stats()
        relay.stop()
        if relay.process.returncode != 0:
            fail(f"the relay exited with {relay.process.returncode} on SIGTERM:\n{relay.tail()}")
        relay.remove_log()
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        say(f"(a) steady stream: {produced} records at {live_rate}/s for {live_seconds} s: produce→ack p50 {p50} ms, "
            f"p90 {latencies[int(len(latencies) * 0.9)]} ms, p99 {p99} ms, max {latencies[-1]} ms")
        say(f"(a) sandbox: {stats['accepted']} accepted, {stats['replays']} replays, non-2xx {non_2xx(stats) or 'none'}")
        print(f"RESULT relay_events_per_second={rate:.0f} (target >= 10000)")
        print(f"RESULT relay_peak_rss_mb={peak_rss:.0f} (target <= 150)")
        print(f"RESULT relay_produce_ack_p50_ms={p50} (steady {live_rate}/s stream)")
        print(f"RESULT relay_produce_ack_p99_ms={p99} (steady {live_rate}/s stream)")
    finally:
        sandbox.stop()


# MARK: - (b) throughput against API latency


def latency():
    events = env_int("RELAY_BENCH_LATENCY_EVENTS", 25000)
    run = f"{int(time.time())}{random.randrange(1000):03d}"
    topic = f"bench.relay.{run}.source"
    sandbox = Sandbox("--plan", "unlimited", "--latency", "50ms", "--latency-jitter", "10ms")
    try:
        create_topic(topic)
        RecordProducer(topic, run, linger_ms=20).backlog(events)
        relay = start_swift_relay(relay_config(run, topic, f"bench.relay.{run}", sandbox))
        wait_accepted(sandbox, relay, events)
        stats = sandbox.stats()
        relay.stop()
        relay.remove_log()
        rate, window = delivery_rate(list(sandbox.ledger_times().values()))
        ideal = MAX_IN_FLIGHT / 0.050
        say(f"(b) sandbox latency 50 ms ± 10 ms: {events} events in {window:.1f} s = {rate:,.0f} events/s; "
            f"ideal max_in_flight / latency = {MAX_IN_FLIGHT} / 0.05 s = {ideal:,.0f}/s; "
            f"non-2xx {non_2xx(stats) or 'none'}; load average {load_average()}")
        print(f"RESULT relay_latency50ms_events_per_second={rate:.0f} (ideal {ideal:.0f})")
        print(f"RESULT relay_latency50ms_percent_of_ideal={100 * rate / ideal:.1f} (target >= 90)")
    finally:
        sandbox.stop()


# MARK: - (c) plan growth


def rate_limit():
    seconds = env_int("RELAY_BENCH_RATE_SECONDS", 180)
    per_minute = 600
    backlog = int(per_minute / 60 * seconds * 1.25) + 200
    run = f"{int(time.time())}{random.randrange(1000):03d}"
    topic = f"bench.relay.{run}.source"
    sandbox = Sandbox("--plan", "growth")
    try:
        create_topic(topic)
        RecordProducer(topic, run, linger_ms=20).backlog(backlog)
        relay = start_swift_relay(relay_config(run, topic, f"bench.relay.{run}", sandbox, plan="growth"))
        wait_accepted(sandbox, relay, 1)
        first = min(sandbox.ledger_times().values())
        say(f"(c) plan growth ({per_minute}/min, burst 20/s), backlog {backlog} records; measuring "
            f"{seconds} s from the first acknowledged event")
        end = first / 1000 + seconds
        while time.time() < end + 1:
            if not relay.alive():
                fail(f"the relay exited with {relay.process.returncode}:\n{relay.tail()}")
            time.sleep(min(30, max(0.1, end + 1 - time.time())))
            say(f"(c) {sandbox.accepted()} accepted, {time.time() - first / 1000:.0f} s")
        stats = sandbox.stats()
        times = sandbox.ledger_times().values()
        relay.stop()
        relay.remove_log()
        achieved = sum(1 for t in times if first <= t < first + seconds * 1000)
        allowed = per_minute * seconds / 60
        too_many = stats["by_status"].get("429", 0)
        say(f"(c) {achieved} events acknowledged in {seconds} s = {achieved / seconds:.2f}/s; allowed "
            f"{per_minute}/min = {allowed:.0f}; {too_many} responses 429 ({stats['rate_limited']} rate limited); "
            f"non-2xx {non_2xx(stats) or 'none'}; load average {load_average()}")
        print(f"RESULT relay_growth_percent_of_allowed={100 * achieved / allowed:.1f} (target >= 97)")
        print(f"RESULT relay_growth_429_responses={too_many} (target 0)")
    finally:
        sandbox.stop()


# MARK: - Fleet: replicas of one group share plan growth (issue 15)

FLEET_SCENARIOS = ("even", "leave", "skewed", "scale-up")
FLEET_PER_SECOND = 10  # plan growth: 600/min


class StatsSampler:
    """Polls the sandbox's /_sandbox/stats every 0.25 s on a thread of its own, so that the time of each 429 is
    known (the ledger holds only accepted events): `rejected_at` lists one wall-clock second per 429."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.rejected_at = []
        self.stopping = threading.Event()
        self.last = 0
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(0.25)

    def sample(self):
        try:
            count = self.sandbox.stats()["by_status"].get("429", 0)
        except OSError:
            return
        now = time.time()
        self.rejected_at.extend([now] * max(0, count - self.last))
        self.last = max(self.last, count)

    def stop(self):
        self.stopping.set()
        self.thread.join()
        self.sample()


class Fleet:
    """One scenario: a sandbox on plan growth, a fresh 6-partition topic with a backlog, and relay processes of
    one consumer group (`rate_limit.scope: fleet`, the default) that `start` adds and `stop` sends SIGTERM."""

    def __init__(self, scenario, backlog, partition=None):
        self.scenario = scenario
        self.run = f"{int(time.time())}{random.randrange(1000):03d}"
        self.topic = f"bench.relay.fleet.{self.run}.source"
        self.group = f"bench.relay.fleet.{self.run}"
        self.log_level = os.environ.get("RELAY_BENCH_FLEET_LOG_LEVEL", "warning")
        self.sandbox = Sandbox("--plan", "growth")
        self.relays = []
        create_topic(self.topic)
        for side in ("retry.1s", "dlq"):
            create_topic(f"bench.relay.fleet.{self.run}.{side}", partitions=3)
        RecordProducer(self.topic, self.run, linger_ms=20).backlog(backlog, partition=partition)
        self.sampler = StatsSampler(self.sandbox)
        where = f"partition {partition}" if partition is not None else f"{PARTITIONS} partitions"
        say(f"fleet {scenario}: backlog of {backlog} records on {where} of {self.topic}; plan growth "
            f"(600/min, burst 20); load average {load_average()}")

    def start(self, count):
        for _ in range(count):
            index = len(self.relays)
            port = free_port()
            config = relay_config(self.run, self.topic, self.group, self.sandbox, plan="growth",
                                  retry_prefix="bench.relay.fleet", name=f".{index}", listen=port,
                                  log_level=self.log_level)
            relay = start_swift_relay(config, name=f"fleet-{self.scenario}-{index}")
            relay.metrics_url = f"http://127.0.0.1:{port}/metrics"
            self.relays.append(relay)
        return time.time()

    def share(self, relay):
        """`affonso_relay_rate_limit_share` of one relay, or None."""
        try:
            request = urllib.request.Request(relay.metrics_url)
            with OPENER.open(request, timeout=5) as response:
                for line in response.read().decode().splitlines():
                    if line.startswith("affonso_relay_rate_limit_share "):
                        return float(line.split()[-1])
        except (OSError, ValueError):
            return None
        return None

    def running(self):
        return [relay for relay in self.relays if relay.alive()]

    def wait_shares(self, expected, timeout=120):
        """Waits until every running relay reports a share within 0.1 of `expected`; returns the seconds taken."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            self.check()
            shares = [self.share(relay) for relay in self.running()]
            if shares and all(share is not None and abs(share - expected) <= 0.1 for share in shares):
                return time.monotonic() - start
            time.sleep(0.5)
        fail(f"fleet {self.scenario}: shares did not settle at {expected:.2f} within {timeout} s: "
             f"{[self.share(relay) for relay in self.running()]}")

    def check(self):
        for relay in self.relays:
            code = relay.process.poll()
            if code not in (None, 0) and not getattr(relay, "stopped", False):
                fail(f"{relay.name} exited with {code}:\n{relay.tail()}")

    def sleep_until(self, wall_time):
        while time.time() < wall_time:
            self.check()
            time.sleep(min(1, max(0.05, wall_time - time.time())))

    def first_accepted(self, timeout=120):
        """Wall-clock seconds of the first acknowledged event."""
        deadline = time.monotonic() + timeout
        while self.sandbox.accepted() == 0:
            self.check()
            if time.monotonic() > deadline:
                fail(f"fleet {self.scenario}: nothing accepted within {timeout} s:\n{self.relays[0].tail()}")
            time.sleep(0.1)
        return min(self.sandbox.ledger_times().values()) / 1000

    def stop(self, relays):
        """SIGTERM to each of `relays` at once; returns the wall time it was sent and a thread per relay that waits
        for it to exit (`exit_times`)."""
        sent = time.time()
        self.exit_times = {}
        for relay in relays:
            relay.stopped = True
            relay.process.send_signal(signal.SIGTERM)
        return sent

    def wait_exits(self, relays, timeout=60):
        for relay in relays:
            try:
                relay.process.wait(timeout)
            except subprocess.TimeoutExpired:
                fail(f"{relay.name} did not exit within {timeout} s of SIGTERM:\n{relay.tail()}")
            self.exit_times[relay.name] = time.time()

    def accepted_times(self):
        return sorted(t / 1000 for t in self.sandbox.ledger_times().values())

    def finish(self):
        self.sampler.stop()
        stats = self.sandbox.stats()
        times = self.accepted_times()
        keep = os.environ.get("RELAY_BENCH_FLEET_KEEP_LOGS") == "1"
        for relay in self.relays:
            relay.stopped = True
            relay.stop()
            if relay.process.returncode not in (0, None):
                say(f"{relay.name} exited with {relay.process.returncode} on SIGTERM; log {relay.log_path}")
            elif keep:
                say(f"{relay.name} log: {relay.log_path}")
            else:
                relay.remove_log()
        self.sandbox.stop()
        return stats, times


def count_in(times, start, end):
    return sum(1 for t in times if start <= t < end)


def per_second(times, start, seconds):
    return [count_in(times, start + s, start + s + 1) for s in range(seconds)]


def fleet_even(seconds):
    """3 replicas, an even backlog: together ≥ 97 % of the plan over `seconds` from the first acknowledgement,
    0 429s."""
    fleet = Fleet("even", backlog=int(FLEET_PER_SECOND * (seconds + 30) * 1.3))
    try:
        fleet.start(3)
        first = fleet.first_accepted()
        fleet.sleep_until(first + seconds + 1)
        shares = [fleet.share(relay) for relay in fleet.relays]
    finally:
        stats, times = fleet.finish()
    achieved = count_in(times, first, first + seconds)
    allowed = FLEET_PER_SECOND * seconds
    rejected = stats["by_status"].get("429", 0)
    say(f"fleet even: 3 replicas, {achieved} accepted in {seconds} s from the first = {achieved / seconds:.2f}/s "
        f"of {FLEET_PER_SECOND}/s; {rejected} 429s; shares at the end {shares}; load average {load_average()}")
    print(f"RESULT fleet_even_percent_of_plan={100 * achieved / allowed:.1f} (target >= 97)")
    print(f"RESULT fleet_even_429_responses={rejected} (target 0)")


def time_to_plan(times, start, horizon, window=10):
    """The first whole second T after `start` from which every `window`-second span up to `horizon` holds
    ≥ 97 % of the plan, or None."""
    need = 0.97 * FLEET_PER_SECOND * window
    for t in range(0, horizon - window + 1):
        if all(count_in(times, start + u, start + u + window) >= need for u in range(t, horizon - window + 1)):
            return t
    return None


def fleet_leave(settle, after):
    """3 replicas with their shares; SIGTERM to two at once: how soon the one left reaches ≥ 97 % of the plan
    (every 10 s span from then holds ≥ 97 % of 10 s × 10/s), the 429s."""
    fleet = Fleet("leave", backlog=int(FLEET_PER_SECOND * (settle + after + 60) * 1.3))
    try:
        fleet.start(3)
        fleet.first_accepted()
        fleet.wait_shares(1 / 3)
        time.sleep(settle)
        leaving = fleet.relays[1:]
        sent = fleet.stop(leaving)
        fleet.wait_exits(leaving)
        fleet.wait_shares(1.0)
        shared = time.time() - sent
        fleet.sleep_until(sent + after + 1)
    finally:
        stats, times = fleet.finish()
    reached = time_to_plan(times, sent, after)
    exits = ", ".join(f"{t - sent:.1f} s" for t in fleet.exit_times.values())
    seconds = per_second(times, sent, min(after, 30))
    rejected = stats["by_status"].get("429", 0)
    late = count_in(times, sent + 15, sent + after) / (FLEET_PER_SECOND * (after - 15))
    say(f"fleet leave: SIGTERM to 2 of 3; they exited after {exits}; the one left reported share 1 after "
        f"{shared:.1f} s; accepted per second from the SIGTERM: {seconds}")
    say(f"fleet leave: every 10 s span from {reached} s on holds ≥ 97 % of the plan; seconds 15–{after}: "
        f"{100 * late:.1f} %; {rejected} 429s; load average {load_average()}")
    print(f"RESULT fleet_leave_seconds_to_plan={reached} (target <= 15)")
    print(f"RESULT fleet_leave_percent_of_plan_after_15s={100 * late:.1f} (target >= 97)")
    print(f"RESULT fleet_leave_429_responses={rejected} (target 0)")


def fleet_skewed(seconds):
    """3 replicas, the whole backlog on one partition (one replica has all the work): ≥ 90 % of the plan over
    `seconds` from the first acknowledgement, 0 429s after its first 10 s."""
    fleet = Fleet("skewed", backlog=int(FLEET_PER_SECOND * (seconds + 30) * 1.3), partition=0)
    try:
        fleet.start(3)
        first = fleet.first_accepted()
        fleet.sleep_until(first + seconds + 1)
        shares = [fleet.share(relay) for relay in fleet.relays]
    finally:
        stats, times = fleet.finish()
    achieved = count_in(times, first, first + seconds)
    late = count_in(times, first + 10, first + seconds)
    rejected = fleet.sampler.rejected_at
    rejected_late = sum(1 for t in rejected if t >= first + 10)
    say(f"fleet skewed: 3 replicas, backlog on 1 of {PARTITIONS} partitions: {achieved} accepted in {seconds} s "
        f"from the first = {100 * achieved / (FLEET_PER_SECOND * seconds):.1f} % of the plan (seconds 10–{seconds}: "
        f"{100 * late / (FLEET_PER_SECOND * (seconds - 10)):.1f} %); 429s {len(rejected)} in all, {rejected_late} "
        f"after 10 s; shares at the end {shares}; load average {load_average()}")
    print(f"RESULT fleet_skewed_percent_of_plan={100 * achieved / (FLEET_PER_SECOND * seconds):.1f} (target >= 90)")
    print(f"RESULT fleet_skewed_429_after_10s={rejected_late} (target 0)")


def fleet_scale_up(before, after):
    """1 replica with a backlog for `before` s, then 2 more: ≤ 5 429s in all, and the plan used throughout
    (the lowest 10 s span from 10 s after the first acknowledgement, and the whole)."""
    fleet = Fleet("scale-up", backlog=int(FLEET_PER_SECOND * (before + after + 30) * 1.3))
    try:
        fleet.start(1)
        first = fleet.first_accepted()
        fleet.sleep_until(first + before)
        joined = fleet.start(2)
        fleet.wait_shares(1 / 3)
        shared = time.time() - joined
        fleet.sleep_until(joined + after + 1)
    finally:
        stats, times = fleet.finish()
    rejected = stats["by_status"].get("429", 0)
    start, end = first + 10, joined + after
    spans = [count_in(times, t, t + 10) / (FLEET_PER_SECOND * 10) for t in range(int(start), int(end) - 9)]
    whole = count_in(times, start, end) / (FLEET_PER_SECOND * (end - start))
    seconds = per_second(times, joined - 5, 25)
    say(f"fleet scale-up: 1 replica, 2 more {before} s after the first acknowledgement; all three at a third "
        f"{shared:.1f} s after the start of the two; accepted per second from 5 s before: {seconds}")
    say(f"fleet scale-up: {100 * whole:.1f} % of the plan from 10 s after the first acknowledgement to {after} s "
        f"after the join, lowest 10 s span {100 * min(spans):.0f} %; {rejected} 429s (at "
        f"{[round(t - joined, 1) for t in fleet.sampler.rejected_at]} s from the join); load average {load_average()}")
    print(f"RESULT fleet_scale_up_429_responses={rejected} (target <= 5)")
    print(f"RESULT fleet_scale_up_percent_of_plan={100 * whole:.1f} (plan used throughout)")
    print(f"RESULT fleet_scale_up_lowest_10s_percent={100 * min(spans):.0f}")


def fleet():
    """Replicas of one group on plan growth (issue 15), RELAY_BENCH_FLEET scenarios (comma-separated; all by
    default): even, leave, skewed, scale-up. RELAY_BENCH_FLEET_SECONDS (90) is the window of even and skewed."""
    names = [name.strip() for name in os.environ.get("RELAY_BENCH_FLEET", ",".join(FLEET_SCENARIOS)).split(",")]
    unknown = [name for name in names if name not in FLEET_SCENARIOS]
    if unknown:
        fail(f"RELAY_BENCH_FLEET: unknown scenario(s) {unknown}; choose from {', '.join(FLEET_SCENARIOS)}")
    seconds = env_int("RELAY_BENCH_FLEET_SECONDS", 90)
    for name in names:
        if name == "even":
            fleet_even(seconds)
        elif name == "leave":
            fleet_leave(settle=20, after=45)
        elif name == "skewed":
            fleet_skewed(seconds)
        elif name == "scale-up":
            fleet_scale_up(before=30, after=60)


# MARK: - (d) Swift vs Python


def compare():
    events = env_int("RELAY_BENCH_COMPARE_EVENTS", 50000)
    rounds = env_int("RELAY_BENCH_COMPARE_ROUNDS", 3)
    run = f"{int(time.time())}{random.randrange(1000):03d}"
    topic = f"bench.relay.{run}.source"
    sandbox = Sandbox("--plan", "unlimited")
    rates = {"swift": [], "python": []}
    cpu = {"swift": [], "python": []}
    try:
        create_topic(topic)
        RecordProducer(topic, run, linger_ms=20).backlog(events)
        say(f"(d) {events} records in {topic}; {rounds} rounds of Swift then Python, each a fresh group on the "
            f"same topic, the sandbox reset before each run")
        for round_number in range(1, rounds + 1):
            for name in ("swift", "python"):
                sandbox.reset()
                group = f"bench.relay.{run}.{name}.{round_number}"
                if name == "swift":
                    relay = start_swift_relay(relay_config(f"{run}.{round_number}", topic, group, sandbox))
                else:
                    relay = start_python_relay(topic, group, sandbox, events)
                wait_accepted(sandbox, relay, events)
                used = relay.cpu_seconds()
                stats = sandbox.stats()
                relay.stop()
                relay.remove_log()
                rate, window = delivery_rate(list(sandbox.ledger_times().values()))
                rates[name].append(rate)
                cpu[name].append(used)
                say(f"(d) round {round_number} {name:6}: {events} events in {window:.2f} s = {rate:,.0f} events/s, "
                    f"CPU {used:.1f} s ({used / events * 1e6:.0f} µs/event); non-2xx {non_2xx(stats) or 'none'}; "
                    f"load average {load_average()}")
        swift, python = statistics.median(rates["swift"]), statistics.median(rates["python"])
        say(f"(d) medians: Swift {swift:,.0f} events/s, Python {python:,.0f} events/s; CPU per event "
            f"Swift {statistics.median(cpu['swift']) / events * 1e6:.0f} µs, "
            f"Python {statistics.median(cpu['python']) / events * 1e6:.0f} µs")
        print(f"RESULT relay_swift_events_per_second={swift:.0f} (median of {rounds})")
        print(f"RESULT relay_python_events_per_second={python:.0f} (median of {rounds})")
        print(f"RESULT relay_swift_python_ratio={swift / python:.2f} (target >= 5)")
    finally:
        sandbox.stop()


# MARK: - Large records


def large_records():
    """RELAY_BENCH_LARGE_RECORDS (300) records of RELAY_BENCH_LARGE_BYTES (900,000) bytes of JSON, all of one
    customer (one key: its queue in the relay never empties), one partition, sandbox latency 300 ms: the relay's
    resident memory as they pass, against the Deployment's 256 MiB limit."""
    count = env_int("RELAY_BENCH_LARGE_RECORDS", 300)
    size = env_int("RELAY_BENCH_LARGE_BYTES", 900000)
    run = f"{int(time.time())}{random.randrange(1000):03d}"
    topic = f"bench.relay.{run}.source"
    sandbox = Sandbox("--plan", "unlimited", "--latency", "300ms")
    try:
        create_topic(topic, partitions=1)
        producer = Producer({"bootstrap.servers": os.environ["KAFKA_BROKERS"], "linger.ms": 5,
                             "message.max.bytes": size + 100000, "log_level": 4})
        template = record_template()
        padding = "x" * size
        key = customer(0)
        for sequence in range(count):
            value = template % {"id": f"evt_{run}_{sequence:07d}", "invoice": f"in_{run}_{sequence}",
                                "customer": key, "amount": 1000 + sequence}
            producer.produce(topic, key=key.encode(), value=(value[:-1] + ', "notes": "' + padding + '"}').encode())
            producer.poll(0)
        if producer.flush(120):
            fail(f"records were not delivered to {topic}")
        relay = start_swift_relay(relay_config(run, topic, f"bench.relay.{run}", sandbox,
                                               max_record_bytes=size + 100000))
        samples = []  # (accepted, RSS MB)
        last, last_change = -1, time.monotonic()
        while True:
            accepted = sandbox.accepted()
            samples.append((accepted, relay.rss_mb()))
            if accepted >= count:
                break
            if accepted != last:
                last, last_change = accepted, time.monotonic()
            if not relay.alive() or time.monotonic() - last_change > 60:
                fail(f"relay stopped or stalled at {accepted} of {count} large records:\n{relay.tail()}")
            time.sleep(1)
        peak = relay.peak_rss_mb()
        relay.stop()
        relay.remove_log()
        rate, window = delivery_rate(list(sandbox.ledger_times().values()))
        quarters = []
        for quarter in (1, 2, 3, 4):
            reached = [rss for accepted, rss in samples if accepted >= count * quarter // 4]
            quarters.append(f"{reached[0]:.0f}" if reached else "?")
        say(f"large records: {count} × {size / 1000:.0f} KB ({count * size / 1e6:.0f} MB) of one key, sandbox "
            f"latency 300 ms: {rate:.1f} events/s over {window:.0f} s; RSS at 25/50/75/100 % delivered "
            f"{' / '.join(quarters)} MB; peak RSS {peak:.0f} MB; load average {load_average()}")
        print(f"RESULT relay_large_records_peak_rss_mb={peak:.0f} (Deployment limit 256 MiB)")
    finally:
        sandbox.stop()


# MARK: - Sink: nginx answering a fixed success, wrk, the Swift and the Python relay (issue 14)

SINK_RECORDS_DEFAULT = 200000
SINK_PARTITIONS = 4
SINK_CUSTOMERS = 400
SINK_RULES = os.path.join(HERE, "sink-rules", "*.yaml")
EVENT_ID = re.compile(rb"evt_[0-9]+_[0-9]+")
# What nginx answers to every POST /v1/events: a 200 with the API's success envelope (a commission's data).
SINK_ENVELOPE = ('{"success":true,"data":{"id":"com_sink_1","referral_id":"ref_sink_1","affiliate_id":"aff_sink_1",'
                 '"sale_amount":58.99,"sale_amount_currency":"EUR","commission_amount":17.7,'
                 '"commission_currency":"EUR","status":"pending","external_event_id":"evt_sink_1",'
                 '"created_at":"2026-12-01T15:01:09Z"}}')


def order_template():
    """A shop's `order.paid` record (about 700 bytes of compact JSON) with %-placeholders for the per-record
    values; the `order-paid` rule of sink-rules/ maps six fields of it."""
    payload = {
        "type": "order.paid", "id": "@ID@", "created_at": "2026-12-01T15:01:09Z", "source": "shop-checkout",
        "api_version": "2026-10-01",
        "order": {
            "id": "@ORDER@", "number": "@NUMBER@", "status": "paid", "currency": "eur",
            "subtotal": 111111111, "tax": 864, "shipping_total": 490, "total": 123456789,
            "customer": {"id": "@CUSTOMER@", "email": "@EMAIL@", "country": "DE", "segment": "returning",
                         "orders_count": 7},
            "items": [
                {"sku": "BOOK-SWIFT-6", "product_id": "prod_book_swift6", "title": "Server-side Swift, 6th ed.",
                 "quantity": 1, "unit_price": 3995},
                {"sku": "STICKER-SET", "product_id": "prod_stickers", "title": "Sticker set", "quantity": 2,
                 "unit_price": 275},
            ],
            "shipping": {"method": "dhl_standard", "country": "DE", "postal_code": "10115"},
            "payment": {"provider": "stripe", "intent": "pi_3QbT9rKqZ1vT9a", "method": "card", "brand": "visa"},
            "discounts": [], "tags": ["web", "newsletter"],
        },
    }
    text = json.dumps(payload, separators=(",", ":")).replace("%", "%%")
    for placeholder, name in (("@ID@", "id"), ("@ORDER@", "order"), ("@NUMBER@", "number"),
                              ("@CUSTOMER@", "customer"), ("@EMAIL@", "email")):
        text = text.replace(f'"{placeholder}"', f'"%({name})s"')
    return text.replace("111111111", "%(subtotal)d").replace("123456789", "%(total)d")


def order_record(template, run, sequence):
    key = customer(sequence % SINK_CUSTOMERS)
    total = 1000 + sequence % 9000
    value = template % {"id": f"evt_{run}_{sequence:07d}", "order": f"ord_{run}_{sequence}",
                        "number": str(100000 + sequence), "customer": key,
                        "email": f"{key}@example.com", "subtotal": total - 490, "total": total}
    return key, value


class OrderProducer(RecordProducer):
    """A `RecordProducer` of the sink's `order.paid` records (`order_record`), for a steady stream."""

    def __init__(self, topic, run, linger_ms):
        super().__init__(topic, run, linger_ms)
        self.template = order_template()

    def record(self, sequence):
        key, value = order_record(self.template, self.run, sequence)
        return self.event_id(sequence), key, value


class NginxSink:
    """nginx (Debian nginx-light) on a free loopback port, with a config written here: every `POST /v1/events`
    gets SINK_ENVELOPE with status 200, kept alive; each request is one line `<msec> <status>` of its access log,
    which `accepted()` and `times()` read (the same role the sandbox ledger has in the other commands)."""

    def __init__(self, workers, event_ids=False):
        """With `event_ids`, each log line also names the event (`external_event_id` of the body): nginx reads a
        body only to pass it on, so `POST /v1/events` is then proxied (kept alive) to a second server of the same
        nginx that returns the envelope, and the line is written once that answer is sent on (for the
        produce→ack latency of `sink_latency`; it costs nginx more CPU per request)."""
        nginx = "/usr/sbin/nginx"
        if not os.access(nginx, os.X_OK):
            fail(f"{nginx} missing; run scripts/setup (Debian package nginx-light)")
        self.directory = tempfile.mkdtemp(prefix="relay-bench-nginx-")
        self.log_path = os.path.join(self.directory, "access.log")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = os.path.join(self.directory, "nginx.conf")
        temp = os.path.join(self.directory, "temp")
        self.event_ids = event_ids
        answer = f"return 200 '{SINK_ENVELOPE}';"
        log_format = "log_format sink '$msec $status';"
        upstream = ""
        if event_ids:
            backend = free_port()
            log_format = "log_format sink escape=json '$msec $status $request_body';"
            answer = ("proxy_pass http://sink_backend; proxy_http_version 1.1; proxy_set_header Connection \"\";\n"
                      "            client_body_in_single_buffer on;")
            upstream = f"""    upstream sink_backend {{ server 127.0.0.1:{backend}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{backend} backlog=4096;
        location / {{ default_type application/json; return 200 '{SINK_ENVELOPE}'; }}
    }}
"""
        with open(config, "w") as file:
            file.write(f"""# Generated by Benchmarks/relay-bench/relaybench.py sink
worker_processes {workers};
pid {self.directory}/nginx.pid;
error_log {self.directory}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    {log_format}
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_buffer_size 64k;
    client_max_body_size 1m;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /v1/events {{
            limit_except POST {{ deny all; }}
            access_log {self.log_path} sink buffer=256k flush=100ms;
            default_type application/json;
            {answer}
        }}
        location / {{ return 404; }}
    }}
{upstream}}}
""")
        os.makedirs(temp)
        self.process = Process("nginx", [nginx, "-p", self.directory, "-c", config, "-g", "daemon off;"])
        self.offset = 0
        self.lines = []  # (seconds, status) of every request logged since the last reset
        self.answered = {}  # with event_ids: milliseconds (`$msec`) at which each event id was answered
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not self.process.alive():
                fail(f"nginx exited during start-up:\n{self.process.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            fail(f"nginx did not listen on {port} within 10 s:\n{self.process.tail()}")

    def worker_cpu_seconds(self):
        """CPU time of nginx's master and workers so far."""
        try:
            with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as file:
                children = [int(pid) for pid in file.read().split()]
        except OSError:
            children = []
        return sum(cpu_seconds(pid) for pid in [self.process.pid, *children])

    def read(self):
        with open(self.log_path, "rb") as file:
            file.seek(self.offset)
            data = file.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            fields = line.split(b" ", 2)
            self.lines.append((float(fields[0]), fields[1].decode()))
            if self.event_ids:
                match = EVENT_ID.search(fields[2] if len(fields) > 2 else b"")
                if match:
                    self.answered[match.group().decode()] = float(fields[0]) * 1000

    def accepted(self):
        self.read()
        return len(self.lines)

    def stats(self):
        self.read()
        by_status = {}
        for _, status in self.lines:
            by_status[status] = by_status.get(status, 0) + 1
        return {"requests": len(self.lines), "by_status": by_status}

    def times(self):
        """Every logged request's time in milliseconds (nginx's `$msec`), as `delivery_rate` takes them."""
        self.read()
        return [seconds * 1000 for seconds, _ in self.lines]

    def reset(self):
        """Forgets what was logged: waits out the log buffer's flush interval, then empties the file."""
        time.sleep(0.5)
        os.truncate(self.log_path, 0)
        self.offset = 0
        self.lines = []
        self.answered = {}

    def stop(self):
        self.process.stop()
        self.process.remove_log()
        subprocess.run(["rm", "-rf", self.directory], check=False)


def sink_binaries():
    """The Swift relays to run: RELAY_SINK_BINARIES=`name=path,…` (e.g. before=…,after=… for a side-by-side
    comparison in one run), else the release build as `relay`."""
    text = os.environ.get("RELAY_SINK_BINARIES", "").strip()
    if not text:
        return [("relay", BINARY)]
    binaries = []
    for item in text.split(","):
        name, _, path = item.partition("=")
        if not name or not path or not os.access(path, os.X_OK):
            fail(f"RELAY_SINK_BINARIES: {item!r} is not name=<executable path>")
        binaries.append((name.strip(), path.strip()))
    return binaries


def run_wrk(sink, body, seconds, connections):
    """wrk -t2 against the sink with the relay's request (same method, path, headers and a body the rule makes)."""
    script = os.path.join(sink.directory, "sink.lua")
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json",
               "Accept": "application/json", "User-Agent": "affonso-relay/0.1.0"}
    with open(script, "w") as file:
        file.write("wrk.method = \"POST\"\n")
        file.write(f"wrk.body = {json.dumps(body)}\n")
        for name, value in headers.items():
            file.write(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n")
    arguments = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script,
                 sink.url + "/v1/events"]
    # wrk's own CPU (the only child reaped meanwhile): what a minimal HTTP/1.1 client in C spends per request here.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(arguments, capture_output=True, text=True, timeout=seconds + 60).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rate = next((float(line.split()[1]) for line in output.splitlines() if line.startswith("Requests/sec")), None)
    if rate is None or "Non-2xx" in output:
        fail(f"wrk failed or saw non-2xx answers:\n{output}")
    latency = next((line.split()[1:3] for line in output.splitlines() if line.strip().startswith("Latency")), ["?"])
    requests = next((int(line.split()[0]) for line in output.splitlines() if "requests in" in line), None)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu_per_request = cpu / requests * 1e6 if requests else float("nan")
    return rate, " ".join(latency), output, cpu_per_request


class Profiler:
    """`perf record -g` attached to a process while it runs (RELAY_SINK_PERF=<output file>, Swift relays only).
    The clock event, since VMs often have no hardware counters (perf then records nothing). RELAY_SINK_PERF_COMMAND
    replaces the command, with {out} and {pid} filled in and split as a shell splits words (quote an argument
    with spaces): e.g. `strace -c -f -o {out} -p {pid}` counts system calls,
    `perf record -a -e cpu-clock -F 999 -g -o {out}` samples the whole machine (filter by thread with --tid)."""

    def __init__(self, pid, output):
        template = os.environ.get("RELAY_SINK_PERF_COMMAND", "").strip()
        command = (shlex.split(template.format(out=output, pid=pid)) if template
                   else ["perf", "record", "-e", "cpu-clock", "-F", "499", "-g", "-o", output, "-p", str(pid)])
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def callgrind_wrapper(output):
    """valgrind's callgrind around the relay, instrumentation off until `callgrind_window` turns it on."""
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={output}"]


def callgrind_window(sink, relay, start, records):
    """Counts instructions while the relay delivers events `start` … `records` (start-up and the group join
    left out), then writes the profile."""
    wait_accepted(sink, relay, start, stall_seconds=300)
    subprocess.run(["callgrind_control", "-i", "on", str(relay.pid)], check=True, capture_output=True)
    counted_from = sink.accepted()
    wait_accepted(sink, relay, records, stall_seconds=300)
    counted = sink.accepted() - counted_from
    subprocess.run(["callgrind_control", "-d", str(relay.pid)], check=True, capture_output=True)
    subprocess.run(["callgrind_control", "-i", "off", str(relay.pid)], check=True, capture_output=True)
    return counted


def wait_sampling(sink, relay, records):
    """`wait_accepted`, reading the relay's CPU seconds and VmHWM on every poll: the Python relay exits by itself
    after its last acknowledgement, so /proc may be gone when the wait ends (the last reading before the exit
    then stands, missing at most the last 0.1 s of its CPU)."""
    used = peak = float("nan")
    last, last_change = -1, time.monotonic()
    while True:
        cpu, hwm = relay.cpu_seconds(), relay.peak_rss_mb()
        used = cpu if cpu == cpu else used
        peak = hwm if hwm == hwm else peak
        accepted = sink.accepted()
        if accepted >= records:
            cpu, hwm = relay.cpu_seconds(), relay.peak_rss_mb()
            relay.system_seconds = cpu_seconds(relay.pid, system_only=True)
            relay.thread_seconds = thread_cpu_seconds(relay.pid)
            return (cpu if cpu == cpu else used), (hwm if hwm == hwm else peak)
        if accepted != last:
            last, last_change = accepted, time.monotonic()
        if relay.process.poll() not in (None, 0):
            fail(f"{relay.name} exited with {relay.process.returncode} after {accepted} of {records} events:\n"
                 f"{relay.tail()}")
        if time.monotonic() - last_change > 60:
            fail(f"{relay.name}: no progress for 60 s at {accepted} of {records} events:\n{relay.tail()}")
        time.sleep(0.1)


def percentile(values, fraction):
    """The value at `fraction` of the sorted `values` (nearest rank)."""
    return values[min(len(values) - 1, int(len(values) * fraction))]


def sink_latency(binaries, run, rate, seconds, workers):
    """produce→ack on a steady stream, for each Swift relay of `binaries` in turn: a fresh 4-partition topic and
    group, a warm-up record on every partition (once nginx has answered them the relay has joined and fetches
    them all), then `rate` `order.paid` records/s for `seconds`, keyed as in `sink`. A record's latency is the
    time nginx logged the answer to the request that carries its event (`$msec`, ms; written once the answer is
    sent) − the record's Kafka timestamp (CreateTime, ms, set when the producer's produce() is called): the
    producer's batching (linger.ms 1), the broker, the relay's fetch, mapping and dispatch, and the request.
    The sink proxies to itself to read the bodies (NginxSink, `event_ids`). Also reported: the part after the
    broker acknowledged each record to the producer, and the broker's CPU. Tansu's memory engine costs more per
    fetch the more batches a partition holds: at 2,000 records/s its CPU climbs from ~40 % of a core to a whole
    core within ~10 s (producing alone it stays at ~20 %), and from then on every latency grows with it, broker
    side and relay side alike; hence 5 s by default. Returns rows (name, count, p50, p90, p99, max, peak RSS MB,
    after-broker p50, after-broker p99, broker CPU share)."""
    sink = NginxSink(workers, event_ids=True)
    rows = []
    try:
        for name, path in binaries:
            topic = f"bench.sink.{run}.live.{name}.orders"
            create_topic(topic, partitions=SINK_PARTITIONS)
            producer = OrderProducer(topic, run, linger_ms=1)
            first = 10_000_000 * (len(rows) + 1)  # event ids apart from the backlog's and the other relays'
            config = relay_config(f"{run}.{name}.live", topic, f"bench.sink.{run}.{name}.live", sink,
                                  rules=SINK_RULES, retry_prefix="bench.sink")
            relay = start_swift_relay(config, name=f"{name}-live", binary=path)
            for partition in range(SINK_PARTITIONS):
                producer.produce(first + partition, partition=partition)
            producer.flush()
            wait_accepted(sink, relay, SINK_PARTITIONS)
            sink.reset()
            broker = broker_pid()
            broker_cpu = cpu_seconds(broker) if broker else float("nan")
            produced = producer.steady(rate, seconds, first=first + SINK_PARTITIONS)
            broker_share = (cpu_seconds(broker) - broker_cpu) / seconds if broker else float("nan")
            wait_accepted(sink, relay, produced)
            time.sleep(0.3)  # the access log's flush interval
            sink.read()
            missing = [event_id for event_id in producer.timestamps if event_id not in sink.answered]
            if missing:
                fail(f"sink latency: {len(missing)} of {produced} events never reached nginx ({name})")
            latencies = sorted(sink.answered[event_id] - created for event_id, created in producer.timestamps.items())
            # The part after the broker acknowledged the record to the producer (the delivery report as served by
            # the producer's poll, every 5 ms: an upper bound on when the record was readable).
            after_broker = sorted(sink.answered[event_id] - acknowledged
                                  for event_id, acknowledged in producer.acknowledged.items())
            dump = os.environ.get("RELAY_SINK_LIVE_DUMP", "").strip()
            if dump:
                with open(f"{dump}.{name}", "w") as file:
                    file.write("# event_id created_ms broker_acknowledged_ms answered_ms\n")
                    for event_id, created in sorted(producer.timestamps.items(), key=lambda item: item[1]):
                        file.write(f"{event_id} {created} {producer.acknowledged[event_id]:.0f} "
                                   f"{sink.answered[event_id]:.0f}\n")
            peak = relay.peak_rss_mb()
            relay.stop()
            if relay.process.returncode != 0:
                fail(f"{name}: the relay exited with {relay.process.returncode} on SIGTERM:\n{relay.tail()}")
            relay.remove_log()
            row = (name, produced, percentile(latencies, 0.5), percentile(latencies, 0.9),
                   percentile(latencies, 0.99), latencies[-1], peak, percentile(after_broker, 0.5),
                   percentile(after_broker, 0.99), broker_share)
            rows.append(row)
            say(f"sink: steady {name:8}: {produced} records at {rate}/s for {seconds} s: produce→ack p50 "
                f"{row[2]:.0f} ms, p90 {row[3]:.0f} ms, p99 {row[4]:.0f} ms, max {row[5]:.0f} ms (after the broker's "
                f"acknowledgement to the producer: p50 {row[7]:.0f} ms, p99 {row[8]:.0f} ms); broker CPU "
                f"{broker_share:.0%} of a core; peak RSS {peak:.0f} MB; load average {load_average()}")
            sink.reset()
    finally:
        sink.stop()
    return rows


def sink():
    """The headline benchmark (scripts/bench.d/05-relay-sink): nginx as the API, wrk for the loopback ceiling of
    the same request, then each Swift relay of RELAY_SINK_BINARIES and the Python relay on the same topic, broker and
    sink. Env: RELAY_SINK_RECORDS (200,000), RELAY_SINK_ROUNDS (1), RELAY_SINK_WRK_SECONDS (10),
    RELAY_SINK_NGINX_WORKERS (1), RELAY_SINK_PYTHON (1; 0 skips it), RELAY_SINK_PERF (a perf.data path;
    RELAY_SINK_PERF_COMMAND another profiler, see `Profiler`),
    RELAY_SINK_CALLGRIND (a callgrind.out path: the Swift relays run under valgrind, instructions counted from the
    1,000th event to the last; use a small RELAY_SINK_RECORDS, e.g. 10000, and RELAY_SINK_PYTHON=0). Then, for each
    Swift relay, produce→ack on a steady stream (`sink_latency`): RELAY_SINK_LIVE_RATE (2,000) records/s for
    RELAY_SINK_LIVE_SECONDS (5; 0 skips it: longer streams measure Tansu, see `sink_latency`); RELAY_SINK_LIVE_DUMP=<path> writes each record's times to <path>.<name>."""
    records = env_int("RELAY_SINK_RECORDS", SINK_RECORDS_DEFAULT)
    rounds = env_int("RELAY_SINK_ROUNDS", 1)
    wrk_seconds = env_int("RELAY_SINK_WRK_SECONDS", 10)
    workers = env_int("RELAY_SINK_NGINX_WORKERS", 1)
    with_python = env_int("RELAY_SINK_PYTHON", 1) != 0
    live_rate = env_int("RELAY_SINK_LIVE_RATE", 2000)
    live_seconds = env_int("RELAY_SINK_LIVE_SECONDS", 5)
    perf_output = os.environ.get("RELAY_SINK_PERF", "").strip()
    callgrind_output = os.environ.get("RELAY_SINK_CALLGRIND", "").strip()
    binaries = sink_binaries()
    run = f"{int(time.time())}{random.randrange(1000):03d}"
    topic = f"bench.sink.{run}.orders"
    template = order_template()
    sink = NginxSink(workers)
    results = []  # (name, events/s, CPU µs per event, peak RSS MB, sink CPU µs per event, window s)
    try:
        key, value = order_record(template, run, 0)
        # wrk sends the body the rule makes of a record (the relay's body; nginx ignores it).
        body = json.dumps({"event_name": "order_paid", "event_type": "conversion", "customer_id": key,
                           "sale_amount": 10.0, "sale_amount_currency": "EUR",
                           "external_event_id": f"evt_{run}_0000000"}, separators=(",", ":"))
        say(f"sink: nginx ({workers} worker{'s' if workers != 1 else ''}) at {sink.url}, answering POST /v1/events "
            f"with 200 and a {len(SINK_ENVELOPE)}-byte success envelope")
        say(f"sink: wrk -t2 -c{MAX_IN_FLIGHT} -d{wrk_seconds}s, the relay's request ({len(body)}-byte body); "
            f"load average {load_average()}")
        wrk_rate, wrk_latency, _, wrk_cpu = run_wrk(sink, body, wrk_seconds, MAX_IN_FLIGHT)
        say(f"sink: wrk → nginx: {wrk_rate:,.0f} requests/s, latency avg/stdev {wrk_latency}; wrk's CPU "
            f"{wrk_cpu:.1f} µs/request (user+system)")
        sink.reset()

        create_topic(topic, partitions=SINK_PARTITIONS)
        producer = Producer({"bootstrap.servers": os.environ["KAFKA_BROKERS"], "linger.ms": 20,
                             "batch.size": 1000000, "queue.buffering.max.messages": 1000000, "acks": "all",
                             "log_level": 4})
        start = time.monotonic()
        for sequence in range(records):
            key, value = order_record(template, run, sequence)
            while True:
                try:
                    producer.produce(topic, key=key.encode(), value=value.encode())
                    break
                except BufferError:
                    producer.poll(0.05)
            if sequence % 10000 == 0:
                producer.poll(0)
        if producer.flush(120):
            fail(f"records were not delivered to {topic}")
        say(f"sink: produced {records} order.paid records ({len(value)} bytes of JSON each, keyed by "
            f"{SINK_CUSTOMERS} customers) to {topic} ({SINK_PARTITIONS} partitions) in "
            f"{time.monotonic() - start:.1f} s")

        names = [name for name, _ in binaries] + (["python"] if with_python else [])
        paths = dict(binaries)
        for round_number in range(1, rounds + 1):
            for name in names:
                group = f"bench.sink.{run}.{name}.{round_number}"
                sink_cpu = sink.worker_cpu_seconds()
                profiler = None
                if name == "python":
                    relay = start_python_relay(topic, group, sink, records, mapping="order")
                else:
                    config = relay_config(f"{run}.{name}.{round_number}", topic, group, sink, rules=SINK_RULES,
                                          retry_prefix="bench.sink")
                    wrapper = callgrind_wrapper(f"{callgrind_output}.{name}.{round_number}") if callgrind_output else ()
                    relay = start_swift_relay(config, name=name, binary=paths[name], wrapper=wrapper)
                    if perf_output:
                        profiler = Profiler(relay.pid, f"{perf_output}.{name}.{round_number}")
                if callgrind_output and name != "python":
                    counted = callgrind_window(sink, relay, min(1000, records // 10), records)
                    say(f"sink: callgrind counted {name}'s instructions over {counted} events into "
                        f"{callgrind_output}.{name}.{round_number}")
                used, peak = wait_sampling(sink, relay, records)
                if profiler:
                    profiler.stop()
                relay.stop()
                relay.remove_log()
                time.sleep(0.3)  # the access log's flush interval
                stats = sink.stats()
                rate, window = delivery_rate(sink.times())
                sink_used = sink.worker_cpu_seconds() - sink_cpu
                bad = {status: count for status, count in stats["by_status"].items() if status != "200"}
                results.append((name, rate, used / records * 1e6, peak, sink_used / records * 1e6))
                say(f"sink: round {round_number} {name:8}: {records} events in {window:.2f} s = {rate:,.0f} events/s; "
                    f"CPU {used:.1f} s = {used / records * 1e6:.1f} µs/event (user+system, whole process; system "
                    f"{getattr(relay, 'system_seconds', float('nan')) / records * 1e6:.1f}); peak RSS "
                    f"{peak:.0f} MB; nginx CPU {sink_used / records * 1e6:.1f} µs/event; {stats['requests']} requests"
                    f"{f', non-200 {bad}' if bad else ''}; load average {load_average()}")
                threads = sorted(getattr(relay, "thread_seconds", {}).items(), key=lambda item: -item[1])
                if threads and name != "python":
                    say(f"sink: round {round_number} {name:8}: CPU µs/event by thread: " + ", ".join(
                        f"{thread} {seconds / records * 1e6:.1f}" for thread, seconds in threads[:8]))
                sink.reset()

        sink.stop()
        live = sink_latency(binaries, run, live_rate, live_seconds, workers) if live_seconds > 0 else []

        def median(name, column):
            return statistics.median(row[column] for row in results if row[0] == name)

        print("relay-bench: sink: summary (medians over rounds)")
        print(f"  {'':10} {'events/s':>10} {'CPU µs/event':>13} {'peak RSS MB':>12} {'÷ python':>9} {'÷ wrk':>7}")
        print(f"  {'wrk':10} {wrk_rate:>10,.0f} {wrk_cpu:>13.1f} {'':>12} {'':>9} {1:>7.2f}")
        for name in names:
            rate = median(name, 1)
            versus_python = f"{rate / median('python', 1):.2f}" if with_python else "-"
            print(f"  {name:10} {rate:>10,.0f} {median(name, 2):>13.1f} {median(name, 3):>12.0f} "
                  f"{versus_python:>9} {rate / wrk_rate:>7.3f}")
        for name, _ in binaries:
            print(f"RESULT sink_{name}_events_per_second={median(name, 1):.0f} (target >= 5x python, >= 30% of wrk)")
            print(f"RESULT sink_{name}_cpu_us_per_event={median(name, 2):.1f} (target <= 20)")
            print(f"RESULT sink_{name}_peak_rss_mb={median(name, 3):.0f} (target <= 64)")
            if with_python:
                print(f"RESULT sink_{name}_python_ratio={median(name, 1) / median('python', 1):.2f}")
                print(f"RESULT sink_{name}_python_cpu_ratio={median(name, 2) / median('python', 2):.2f}")
            print(f"RESULT sink_{name}_wrk_ratio={median(name, 1) / wrk_rate:.3f}")
        if with_python:
            print(f"RESULT sink_python_events_per_second={median('python', 1):.0f}")
            print(f"RESULT sink_python_cpu_us_per_event={median('python', 2):.1f}")
            print(f"RESULT sink_python_peak_rss_mb={median('python', 3):.0f}")
        if live:
            print(f"relay-bench: sink: produce→ack, steady {live_rate} records/s for {live_seconds} s")
            print(f"  {'':10} {'records':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'peak RSS MB':>12}")
            for name, count, p50, p90, p99, worst, peak, *_ in live:
                print(f"  {name:10} {count:>8} {p50:>7.0f} {p90:>7.0f} {p99:>7.0f} {worst:>7.0f} {peak:>12.0f}")
        for name, _, p50, _, p99, worst, *_ in live:
            print(f"RESULT sink_{name}_produce_ack_p50_ms={p50:.0f} (steady {live_rate}/s)")
            print(f"RESULT sink_{name}_produce_ack_p99_ms={p99:.0f} (steady {live_rate}/s, target <= 20)")
            print(f"RESULT sink_{name}_produce_ack_max_ms={worst:.0f} (steady {live_rate}/s)")
        print(f"RESULT sink_wrk_requests_per_second={wrk_rate:.0f}")
        print(f"RESULT sink_wrk_cpu_us_per_request={wrk_cpu:.1f}")
    finally:
        sink.stop()


def client_sink():
    """AffonsoClient alone against the nginx sink (no Kafka, no relay): `AffonsoBench client` at concurrency 64 for
    RELAY_SINK_CLIENT_SECONDS (5) after a 1 s warm-up, for each binary of RELAY_SINK_CLIENTS (`name=path,…`;
    default .build/release/AffonsoBench), RELAY_SINK_ROUNDS (2) rounds alternating: requests/s and the process's
    CPU per request (an upper bound: the warm-up's requests are not counted)."""
    seconds = env_int("RELAY_SINK_CLIENT_SECONDS", 5)
    rounds = env_int("RELAY_SINK_ROUNDS", 2)
    text = os.environ.get("RELAY_SINK_CLIENTS", "").strip()
    clients = ([tuple(item.split("=", 1)) for item in text.split(",")] if text
               else [("client", os.path.join(ROOT, ".build", "release", "AffonsoBench"))])
    sink = NginxSink(env_int("RELAY_SINK_NGINX_WORKERS", 1))
    try:
        for round_number in range(1, rounds + 1):
            for name, path in clients:
                output = subprocess.run(["/usr/bin/time", "-f", "CPU %U %S", path, "client", "--url", sink.url,
                                         "--concurrency", str(MAX_IN_FLIGHT), "--duration", str(seconds),
                                         "--warmup", "1"], capture_output=True, text=True, timeout=seconds + 60)
                values = dict(line.split(" ", 1) for line in output.stdout.strip().splitlines() if " " in line)
                if "client_rps" not in values:
                    fail(f"{name}: AffonsoBench client failed:\n{output.stdout}\n{output.stderr}")
                cpu = sum(float(x) for x in output.stderr.strip().splitlines()[-1].split()[1:])
                requests = int(values["client_requests"])
                say(f"client-sink: round {round_number} {name:8}: {values['client_rps']} requests/s, failed "
                    f"{values['client_failed']}; CPU {cpu:.1f} s = {cpu / requests * 1e6:.1f} µs/request (upper "
                    f"bound); load average {load_average()}")
                print(f"RESULT client_sink_{name}_requests_per_second={values['client_rps']} (round {round_number})")
                sink.reset()
    finally:
        sink.stop()


COMMANDS = {"throughput": throughput, "latency": latency, "rate-limit": rate_limit, "compare": compare,
            "large-records": large_records, "fleet": fleet, "sink": sink,
            "client-sink": client_sink}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        fail(f"usage: relaybench.py {' | '.join(COMMANDS)}")
    if not os.access(BINARY, os.X_OK):
        fail(f"{BINARY} missing; run swift build -c release --product affonso-relay first")
    if "KAFKA_BROKERS" not in os.environ:
        fail("KAFKA_BROKERS is not set; run through scripts/bench (or source .tools/stack.env)")
    COMMANDS[sys.argv[1]]()
