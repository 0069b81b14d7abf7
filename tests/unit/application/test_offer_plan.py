"""Planning a round of offer commands: the latest value per offer, grouped by value into
Allegro's batch commands of at most 1 000 offers, stock 0 as END, re-activation after a
restock, deterministic ids, and one result per command."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

from application.offer_plan import (
    UNKNOWN_SKU,
    activations,
    finished_offers,
    on_base_marketplace,
    plan_round,
    restocked_offers,
    round_results,
    round_span,
)
from application.ports.commands import Position
from application.ports.offers import Failure
from domain.commands import CommandFailed, CommandSucceeded, FailureReason
from domain.money import Money
from domain.offers import (
    BatchKind,
    OfferCommand,
    OfferRequest,
    PublicationAction,
    SetPrice,
    SetStock,
)

ACCOUNT = "shop-1"
AT = datetime(2026, 3, 14, 12, tzinfo=UTC)
POSITIONS = [Position(0, 10), Position(0, 11), Position(1, 4)]


def stock(sku: str, available: int) -> OfferRequest:
    return OfferRequest(SetStock(uuid.uuid4(), ACCOUNT, sku, available), AT)


def price(sku: str, amount: str, marketplace: str | None = None) -> OfferRequest:
    command: OfferCommand = SetPrice(
        uuid.uuid4(), ACCOUNT, sku, Money.parse(amount, "PLN"), marketplace
    )
    return OfferRequest(command, AT)


def test_the_round_key_names_the_positions_and_covers_the_last_of_each_partition() -> None:
    key, covers = round_span([Position(1, 7), Position(0, 3), Position(1, 5), Position(0, 4)])

    assert key == "p0:3-4,p1:5-7"
    assert covers == (Position(0, 4), Position(1, 7))


def test_the_latest_stock_of_a_sku_wins_for_every_offer_it_maps_to() -> None:
    requests = [stock("A", 5), stock("B", 5), stock("A", 7)]

    planned = plan_round(ACCOUNT, POSITIONS, requests, {"A": ["1", "2"], "B": ["3"]})

    assert [(c.kind, c.quantity, c.offer_ids) for c in planned.commands] == [
        (BatchKind.QUANTITY, 5, ("3",)),
        (BatchKind.QUANTITY, 7, ("1", "2")),
    ]


def test_offers_sharing_a_value_share_commands_of_at_most_1000_offers() -> None:
    offers = {f"S{i}": [str(10_000 + i)] for i in range(2500)}
    requests = [stock(sku, 3) for sku in offers]

    planned = plan_round(ACCOUNT, POSITIONS, requests, offers)

    assert [len(c.offer_ids) for c in planned.commands] == [1000, 1000, 500]
    assert {c.quantity for c in planned.commands} == {3}
    assert sum((c.offer_ids for c in planned.commands), ()) == tuple(
        sorted(o for ids in offers.values() for o in ids)
    )


def test_stock_0_ends_the_offers_and_is_never_a_quantity() -> None:
    planned = plan_round(ACCOUNT, POSITIONS, [stock("A", 4), stock("A", 0)], {"A": ["1", "2"]})

    assert [(c.kind, c.action, c.offer_ids) for c in planned.commands] == [
        (BatchKind.PUBLICATION, PublicationAction.END, ("1", "2"))
    ]
    assert planned.reactivate == ()


def test_a_restock_re_activates_only_the_offers_ended_by_the_service_or_for_empty_stock() -> None:
    requests = [stock("A", 0), stock("A", 6), stock("B", 0)]
    offers = {"A": ["1", "2"], "B": ["3"]}

    assert restocked_offers(requests, offers) == {"1", "2"}
    planned = plan_round(ACCOUNT, POSITIONS, requests, offers, reactivatable={"2", "3"})

    assert [(c.kind, c.offer_ids) for c in planned.commands] == [
        (BatchKind.QUANTITY, ("1", "2")),
        (BatchKind.PUBLICATION, ("3",)),
    ]
    assert planned.reactivate == ("2",)  # "3" stays at 0: ended, not re-activated


def test_the_activations_follow_the_quantities_that_were_set() -> None:
    planned = plan_round(ACCOUNT, POSITIONS, [stock("A", 6)], {"A": ["1", "2"]}, {"1", "2"})
    quantity = planned.commands[0]
    failures = {quantity.command_id: {"2": Failure("The offer is archived", "ARCHIVED")}}

    [activate] = activations(ACCOUNT, planned, failures)

    assert (activate.kind, activate.action, activate.offer_ids) == (
        BatchKind.PUBLICATION,
        PublicationAction.ACTIVATE,
        ("1",),
    )
    assert activations(ACCOUNT, planned, failures) == [activate]  # the same id again
    assert activations(ACCOUNT, planned, {}) != [activate]  # other content, other id


def test_prices_are_grouped_per_marketplace_and_amount_latest_wins() -> None:
    requests = [
        price("A", "10.00"),
        price("C", "10.0"),  # the same amount: the same command
        price("A", "12.50", "allegro-cz"),
        price("B", "10.00"),
        price("B", "9.99"),  # B's base price moves on
    ]

    planned = plan_round(ACCOUNT, POSITIONS, requests, {"A": ["1"], "B": ["2"], "C": ["3"]})

    assert [(c.marketplace, str(c.price), c.offer_ids) for c in planned.commands] == [
        (None, "9.99 PLN", ("2",)),
        (None, "10.00 PLN", ("1", "3")),
        ("allegro-cz", "12.50 PLN", ("1",)),
    ]


def test_the_same_records_plan_the_same_ids_and_another_round_new_ones() -> None:
    requests = [stock("A", 5), price("A", "10.00"), stock("B", 0)]
    offers = {"A": ["1"], "B": ["2"]}

    first = plan_round(ACCOUNT, POSITIONS, requests, offers)
    again = plan_round(ACCOUNT, POSITIONS, requests, offers)
    later = plan_round(ACCOUNT, [Position(0, 12)], requests, offers)

    assert first == again
    assert {c.command_id for c in first.commands}.isdisjoint(c.command_id for c in later.commands)


def test_one_result_per_command_in_arrival_order_superseded_ones_share_the_last_write() -> None:
    requests = [stock("A", 5), price("A", "10.00"), stock("U", 1), stock("A", 7), stock("B", 2)]
    planned = plan_round(ACCOUNT, POSITIONS, requests, {"A": ["1", "2"], "B": ["3"], "U": []})
    by_quantity = {c.quantity: c for c in planned.commands if c.kind is BatchKind.QUANTITY}
    failures = {by_quantity[7].command_id: {"2": Failure("The offer is archived", "ARCHIVED")}}

    results = round_results(ACCOUNT, planned, planned.commands, failures)

    assert [r.command_id for r in results] == [r.command.command_id for r in requests]
    assert [type(r) for r in results] == [
        CommandFailed,  # superseded by the 7, which failed for offer 2
        CommandSucceeded,  # the price write is another write
        CommandFailed,  # no offer
        CommandFailed,
        CommandSucceeded,
    ]
    first, _, unknown, last, _ = results
    assert isinstance(first, CommandFailed)
    assert isinstance(last, CommandFailed)
    assert isinstance(unknown, CommandFailed)
    assert dataclasses.replace(last, command_id=first.command_id) == first  # one outcome
    assert (first.reason, first.code, first.message) == (
        FailureReason.REJECTED,
        "ARCHIVED",
        "The offer is archived",
    )
    assert (unknown.code, unknown.sku, unknown.checkout_form_id) == (UNKNOWN_SKU, "U", None)
    assert all(
        r.sku == q.command.sku and r.occurred_at == AT
        for r, q in zip(results, requests, strict=True)
    )


def test_an_activation_failure_fails_the_stock_command() -> None:
    planned = plan_round(ACCOUNT, POSITIONS, [stock("A", 6)], {"A": ["1"]}, {"1"})
    [activate] = activations(ACCOUNT, planned, {})
    failures = {activate.command_id: {"1": Failure("cannot activate", "OFFER_STOCK_EMPTY")}}

    [result] = round_results(ACCOUNT, planned, [*planned.commands, activate], failures)

    assert isinstance(result, CommandFailed)
    assert result.code == "OFFER_STOCK_EMPTY"
    assert finished_offers([*planned.commands, activate], failures) == (set(), set())
    assert finished_offers([*planned.commands, activate], {}) == (set(), {"1"})


def test_failure_text_from_allegro_is_bounded() -> None:
    failure = Failure.bounded("x" * 10_000, "C" * 10_000)

    assert len(failure.message) == 512
    assert failure.code is not None
    assert len(failure.code) == 512
    assert Failure.bounded(None, None).message  # a FAIL without words still says something


def test_a_price_naming_the_base_marketplace_and_a_later_one_naming_none_are_one_write() -> None:
    explicit = price("A", "10.00", "allegro-pl")
    later = price("A", "12.00")  # no marketplace: the base one, the same write

    requests = on_base_marketplace([explicit, later], {"A": "allegro-pl"}.get)
    offer_round = plan_round(ACCOUNT, POSITIONS, requests, {"A": ["11"]})

    [command] = offer_round.commands
    assert (command.kind, command.price, command.marketplace) == (
        BatchKind.PRICE,
        Money.parse("12.00", "PLN"),
        None,
    )
    assert [r.command.command_id for r in offer_round.requests] == [
        explicit.command.command_id,
        later.command.command_id,
    ]


def test_a_price_naming_another_marketplace_or_one_of_an_unknown_base_stays_as_it_is() -> None:
    requests = [price("A", "10.00", "allegro-cz"), price("B", "10.00", "allegro-pl")]

    assert on_base_marketplace(requests, {"A": "allegro-pl"}.get) == requests


def test_an_offer_changed_by_several_commands_of_a_round_is_pending_once() -> None:
    requests = [stock("A", 5), price("A", "10.00"), stock("B", 0)]
    offer_round = plan_round(ACCOUNT, POSITIONS, requests, {"A": ["11", "12"], "B": ["21"]})

    assert len(offer_round.commands) == 3  # quantity and price for A's offers, END for B's
    assert offer_round.offer_count() == 3
