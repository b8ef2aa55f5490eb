"""A straightforward Python relay, the baseline for `make bench` (issue 6, d).

What a platform team would write by hand with confluent-kafka and aiohttp:
consume, map a Stripe invoice.paid record to an Affonso conversion, POST it
with at most CONCURRENCY requests in flight, and commit a partition's offset
only up to its highest contiguous acknowledged record.

usage: relay.py --brokers B --topic T --group G --url URL --api-key K --records N [--mapping stripe|order]
(--mapping order: the `order.paid` event of Benchmarks/relay-bench/sink-rules/order-paid.yaml, used by
scripts/bench.d/05-relay-sink; the default is the Stripe invoice.paid rule.)
Prints one line: `python-relay: N events in S s = R events/s`.
"""

import argparse
import asyncio
import json
import time
from datetime import datetime, timezone

import aiohttp
from confluent_kafka import Consumer, TopicPartition


ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf",
                "xof", "xpf"}


def to_event(record_value: bytes) -> dict:
    """The same event as the `stripe-invoice-paid` rule (examples/rules/stripe.yaml) makes."""
    payload = json.loads(record_value)
    invoice = payload["data"]["object"]
    lines = invoice["lines"]["data"]
    recurring = [line["price"]["recurring"] for line in lines if line["price"].get("recurring")]
    interval = None
    if recurring and recurring[0]["interval_count"] == 1:
        interval = {"year": "yearly", "month": "monthly"}.get(recurring[0]["interval"])
    currency = invoice["currency"]
    event = {
        "event_name": "invoice_paid",
        "event_type": "conversion",
        "customer_id": invoice["customer"],
        "sale_amount": invoice["amount_paid"] / (1.0 if currency in ZERO_DECIMAL else 100.0),
        "sale_amount_currency": currency.upper(),
        "external_event_id": payload["id"],
        "occurred_at": datetime.fromtimestamp(payload["created"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "price_ids": [line["price"]["id"] for line in lines],
        "product_ids": [line["price"]["product"] for line in lines],
        "is_subscription": invoice.get("subscription") is not None,
        "interval": interval,
        "metadata": {"stripe_invoice": invoice["id"], "billing_reason": invoice["billing_reason"]},
    }
    return {name: value for name, value in event.items() if value is not None}


def order_to_event(record_value: bytes) -> dict:
    """The same event as the `order-paid` rule (Benchmarks/relay-bench/sink-rules/order-paid.yaml) makes."""
    payload = json.loads(record_value)
    order = payload["order"]
    return {
        "event_name": "order_paid",
        "event_type": "conversion",
        "customer_id": order["customer"]["id"],
        "sale_amount": order["total"] / 100.0,
        "sale_amount_currency": order["currency"].upper(),
        "external_event_id": payload["id"],
    }


MAPPINGS = {"stripe": to_event, "order": order_to_event}


class Offsets:
    """Per partition: the highest contiguous acknowledged offset + 1."""

    def __init__(self):
        self.pending = {}  # partition -> set of offsets in flight
        self.next = {}  # partition -> committable offset
        self.highest = {}  # partition -> highest offset started

    def start(self, partition, offset):
        self.pending.setdefault(partition, set()).add(offset)
        self.next.setdefault(partition, offset)
        self.highest[partition] = offset

    def done(self, partition, offset):
        pending = self.pending[partition]
        pending.discard(offset)
        self.next[partition] = min(pending) if pending else self.highest[partition] + 1


async def main():
    parser = argparse.ArgumentParser()
    for flag in ("brokers", "topic", "group", "url", "api-key"):
        parser.add_argument(f"--{flag}", required=True)
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--mapping", choices=sorted(MAPPINGS), default="stripe")
    args = parser.parse_args()

    consumer = Consumer({
        "bootstrap.servers": args.brokers, "group.id": args.group,
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
        # The Swift relay's benchmark settings: quick rebalances, and short fetch waits (Tansu holds a fetch
        # for fetch.wait.max.ms even when records arrive meanwhile).
        "session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "fetch.wait.max.ms": 10,
    })
    consumer.subscribe([args.topic])
    offsets = Offsets()
    slots = asyncio.Semaphore(args.concurrency)
    headers = {"Authorization": f"Bearer {args.api_key}", "Content-Type": "application/json"}
    mapping = MAPPINGS[args.mapping]
    delivered = 0
    started = None
    loop = asyncio.get_running_loop()

    async def deliver(session, message):
        nonlocal delivered
        event = mapping(message.value())
        while True:
            try:
                async with session.post(f"{args.url}/v1/events", json=event, headers=headers) as response:
                    await response.read()
                    if response.status < 300 or 400 <= response.status < 500 and response.status != 429:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        delivered += 1
        offsets.done(message.partition(), message.offset())
        slots.release()

    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = set()
        consumed = 0
        last_commit = time.monotonic()
        while delivered < args.records:
            if consumed < args.records:
                messages = await loop.run_in_executor(None, consumer.consume, 500, 0.1)
                for message in messages:
                    if message.error():
                        continue
                    started = started or time.monotonic()
                    await slots.acquire()
                    offsets.start(message.partition(), message.offset())
                    task = asyncio.create_task(deliver(session, message))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    consumed += 1
            else:
                await asyncio.sleep(0.01)
            if time.monotonic() - last_commit > 1:
                commit(consumer, args.topic, offsets)
                last_commit = time.monotonic()
        await asyncio.gather(*tasks)
    seconds = time.monotonic() - started  # first record read to last event acknowledged
    commit(consumer, args.topic, offsets)
    consumer.close()
    print(f"python-relay: {delivered} events in {seconds:.2f} s = {delivered / seconds:.0f} events/s")


def commit(consumer, topic, offsets):
    partitions = [TopicPartition(topic, p, o) for p, o in offsets.next.items()]
    if partitions:
        consumer.commit(offsets=partitions, asynchronous=False)


if __name__ == "__main__":
    asyncio.run(main())
