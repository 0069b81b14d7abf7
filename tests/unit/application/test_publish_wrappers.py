"""The publisher port is an encoder and a sender; `publish` and `publish_dead_letters` are
free functions over them, written once, not a method each adapter re-implements."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapters.inmemory import InMemoryEventPublisher
from adapters.kafka import AiokafkaEventPublisher
from adapters.persistence import MemoryStateStore
from application.outbox import Outbox
from application.ports.publisher import (
    DEAD_LETTERS,
    ORDERS,
    OutboundMessage,
    publish,
    publish_dead_letters,
)
from application.ports.state import StagedBatch
from tests.support.builders import make_dead_letter, make_order_imported
from tests.support.failpoints import CrashingPublisher

ACCOUNT = "acct-1"


class RecordingSender:
    """A `MessageSender` and nothing else: it cannot encode."""

    def __init__(self) -> None:
        self.batches: list[list[OutboundMessage]] = []

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        self.batches.append(list(messages))


class SplitPublisher(InMemoryEventPublisher):
    """The in-memory encoder, with every send recorded as one batch."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[OutboundMessage]] = []

    async def send(self, messages: Sequence[OutboundMessage]) -> None:
        self.batches.append(list(messages))
        await super().send(messages)


async def test_publish_sends_exactly_what_the_encoder_made_in_one_batch() -> None:
    events = [make_order_imported(), make_order_imported(external_id="form-2")]
    publisher = SplitPublisher()

    await publish(publisher, events)

    assert publisher.batches == [publisher.encode(events)]
    assert [m.channel for m in publisher.batches[0]] == [ORDERS, ORDERS]
    assert publisher.published == events


async def test_publish_dead_letters_sends_them_on_the_dead_letter_channel() -> None:
    letter = make_dead_letter()
    publisher = SplitPublisher()

    await publish_dead_letters(publisher, [letter])

    assert [[m.channel for m in batch] for batch in publisher.batches] == [[DEAD_LETTERS]]
    assert publisher.dead_letters == [letter]


@pytest.mark.parametrize(
    "adapter", [InMemoryEventPublisher, AiokafkaEventPublisher, CrashingPublisher]
)
def test_no_adapter_re_implements_the_wrappers(adapter: type) -> None:
    assert not hasattr(adapter, "publish")
    assert not hasattr(adapter, "publish_dead_letters")


async def test_a_staged_batch_is_re_sent_by_the_sender_alone_byte_for_byte() -> None:
    messages = tuple(InMemoryEventPublisher().encode([make_order_imported()], [make_dead_letter()]))
    state, sender = MemoryStateStore(), RecordingSender()
    await state.stage(ACCOUNT, StagedBatch(None, (), (), messages))

    staged = await Outbox(state, sender, ACCOUNT).resend_staged()

    assert staged is not None
    assert sender.batches == [list(messages)]
    assert await state.load_staged(ACCOUNT) is None
