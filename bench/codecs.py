"""Publishing cost per record for each `KAFKA_COMPRESSION_TYPE`: `.venv/bin/python bench/codecs.py`.

The real publisher (`AiokafkaEventPublisher`, acks=all) on the embedded broker, 16 000 records
of ~900 bytes of order-like JSON sent in batches of 1 000, twice per codec (alternating, as
this machine's speed drifts). Prints the CPU time of this process per record, which is what
the service pays; about a minute in all.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid

from pipeline import fresh_topics

from adapters.kafka import AiokafkaEventPublisher
from application.ports.publisher import ORDERS, OutboundMessage
from sandbox.kafka_broker import EmbeddedBroker

CODECS = ("gzip", "zstd", "lz4", "snappy", "none")
RECORDS = 16_000
HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject", "ce_time")


def records(count: int, seed: int = 1) -> list[OutboundMessage]:
    rng = random.Random(seed)

    def an_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128)))

    out = []
    for n in range(count):
        order = {
            "event_id": an_id(),
            "external_id": an_id(),
            "buyer": {"login": f"klient{rng.randint(0, 10**6)}", "first_name": "Zażółć"},
            "line_items": [
                {
                    "external_line_id": an_id(),
                    "external_offer_id": str(rng.randint(10**9, 10**10)),
                    "name": f"Buty sportowe rozmiar {rng.randint(30, 48)}",
                    "quantity": 1,
                    "unit_price": f"{rng.randint(1, 999)}.99",
                }
                for _ in range(2)
            ],
            "shipping_address": {"street": f"ul. Długa {rng.randint(1, 200)}", "city": "Kraków"},
            "total_amount": "279.97",
            "order_status": "new",
            "payment_status": "paid",
            "occurred_at": "2026-11-27T12:00:00.123456Z",
        }
        value = json.dumps(order, ensure_ascii=False).encode()
        headers = tuple((name, f"{name}-{n}".encode()) for name in HEADERS)
        out.append(OutboundMessage(ORDERS, order["external_id"].encode(), value, headers))
    return out


async def cpu_per_record(servers: str, codec: str, messages: list[OutboundMessage]) -> float:
    config = await fresh_topics(
        servers, "codecs", compression_type=None if codec == "none" else codec
    )
    async with AiokafkaEventPublisher(config) as publisher:
        await publisher.send(messages[:100])  # metadata and connections first
        started = time.process_time()
        for start in range(0, len(messages), 1000):
            await publisher.send(messages[start : start + 1000])
        return (time.process_time() - started) / len(messages)


async def main() -> None:
    messages = records(RECORDS)
    size = sum(len(m.value) for m in messages) / len(messages)
    results: dict[str, list[float]] = {codec: [] for codec in CODECS}
    with EmbeddedBroker() as broker:
        for _ in range(2):
            for codec in CODECS:
                results[codec].append(
                    await cpu_per_record(broker.bootstrap_servers, codec, messages)
                )
    print(
        f"| KAFKA_COMPRESSION_TYPE | CPU per record ({RECORDS} records of ~{size:.0f} B, 2 runs) |"
    )
    print("|---|---|")
    for codec, seconds in results.items():
        print(f"| {codec} | {' / '.join(f'{s * 1e6:.0f} µs' for s in seconds)} |")


if __name__ == "__main__":
    asyncio.run(main())
