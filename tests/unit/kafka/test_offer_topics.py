"""Where offer records go: the offer topics in the Kafka settings, the OFFERS channel routed to
the offers topic (and kept apart by the in-memory publisher), the offer command source."""

from __future__ import annotations

import pytest

from adapters.inmemory.inmemory_event_publisher import InMemoryEventPublisher
from adapters.kafka.aiokafka_command_source import (
    MAX_RECORDS,
    OFFER_MAX_RECORDS,
    AiokafkaCommandSource,
    AiokafkaRecordSource,
    aiokafka_offer_command_source,
)
from adapters.kafka.aiokafka_event_publisher import topic_of_channel
from adapters.kafka.commands import decode_command
from adapters.kafka.config import KafkaConfig
from adapters.kafka.offers import decode_offer_command
from application.ports.publisher import COMMAND_RESULTS, DEAD_LETTERS, OFFERS, ORDERS
from tests.support.builders import make_dead_letter, make_order_imported
from tests.unit.kafka.test_offer_encoder import make_offer_changed

BOOTSTRAP = "localhost:9092"


def test_the_offer_topics_have_their_defaults() -> None:
    config = KafkaConfig(bootstrap_servers=BOOTSTRAP)

    assert config.topic_offers == "openoms.offers.v1"
    assert config.topic_offer_commands == "openoms.allegro.offer-commands.v1"


@pytest.mark.parametrize("field", ["topic_offers", "topic_offer_commands"])
@pytest.mark.parametrize("clash", ["topic_orders", "topic_dlq", "topic_command_results"])
def test_an_offer_topic_must_differ_from_the_others(field: str, clash: str) -> None:
    same = getattr(KafkaConfig(bootstrap_servers=BOOTSTRAP), clash)

    with pytest.raises(ValueError, match="must differ"):
        KafkaConfig(bootstrap_servers=BOOTSTRAP, **{field: same})


def test_the_offer_topics_must_differ_from_each_other() -> None:
    with pytest.raises(ValueError, match="must differ"):
        KafkaConfig(bootstrap_servers=BOOTSTRAP, topic_offers="a", topic_offer_commands="a")


@pytest.mark.parametrize("field", ["topic_offers", "topic_offer_commands"])
def test_an_offer_topic_must_not_be_empty(field: str) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        KafkaConfig(bootstrap_servers=BOOTSTRAP, **{field: ""})


def test_every_channel_is_written_to_its_own_configured_topic() -> None:
    config = KafkaConfig(
        bootstrap_servers=BOOTSTRAP,
        topic_orders="o",
        topic_dlq="d",
        topic_command_results="r",
        topic_offers="f",
    )

    assert topic_of_channel(config) == {
        ORDERS: "o",
        DEAD_LETTERS: "d",
        COMMAND_RESULTS: "r",
        OFFERS: "f",
    }


async def test_the_in_memory_publisher_keeps_offer_changes_apart_from_order_events() -> None:
    publisher = InMemoryEventPublisher()
    offer, order, letter = make_offer_changed(), make_order_imported(), make_dead_letter()

    messages = publisher.encode_offers([offer], [letter]) + publisher.encode([order])
    await publisher.send(messages)

    assert [m.channel for m in messages] == [OFFERS, DEAD_LETTERS, ORDERS]
    assert messages[0].key == offer.offer_id.encode()
    assert (publisher.offers, publisher.published, publisher.dead_letters) == (
        [offer],
        [order],
        [letter],
    )


async def test_the_in_memory_publisher_records_no_offer_during_an_outage() -> None:
    publisher = InMemoryEventPublisher()
    publisher.fail_with = RuntimeError("down")

    with pytest.raises(RuntimeError):
        await publisher.send(publisher.encode_offers([make_offer_changed()]))

    assert publisher.offers == []


def test_the_offer_command_source_reads_the_offer_commands_topic_a_batch_at_a_time() -> None:
    config = KafkaConfig(bootstrap_servers=BOOTSTRAP, topic_offer_commands="offer-cmds")

    source = aiokafka_offer_command_source(config, "group-1", "shop-1")

    assert isinstance(source, AiokafkaRecordSource)
    assert source._topic == "offer-cmds"
    assert source._decode is decode_offer_command
    assert source._max_records == OFFER_MAX_RECORDS == 1_000


def test_a_source_reads_at_least_one_record_per_receive() -> None:
    config = KafkaConfig(bootstrap_servers=BOOTSTRAP)

    with pytest.raises(ValueError, match="max_records"):
        aiokafka_offer_command_source(config, "group-1", "shop-1", max_records=0)


def test_the_order_command_source_keeps_its_codec_and_its_100_records_a_receive() -> None:
    config = KafkaConfig(bootstrap_servers=BOOTSTRAP)

    source = AiokafkaCommandSource(config, config.topic_commands, "group-1", "shop-1")

    assert source._topic == config.topic_commands
    assert source._decode is decode_command
    assert source._max_records == MAX_RECORDS == 100
