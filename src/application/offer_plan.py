"""Planning a round of offer commands: pure, so the same records always give the same plan.

A round answers the valid `SetStock`/`SetPrice` commands received together. Within it the
latest value wins: one stock per SKU, one price per (SKU, marketplace), applied to every
offer the SKU maps to; superseded commands are answered with the outcome of the write that
carried their SKU's last value. Offers sharing a value share one of Allegro's batch commands
(at most `MAX_OFFERS_PER_COMMAND` offers each). A stock of 0 ends the offer (Allegro refuses a
FIXED quantity of 0); stock coming back sets the quantity, then re-activates the offers the
service ended, or that Allegro ended for empty stock (docs/offers.md).

Batch command ids are derived from the round key (the record positions the round answers)
and the content: the round planned again after a crash gets the same ids, so Allegro answers
`409` (already used) instead of applying a batch twice, and a later round gets new ids.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal

from application.ports.commands import Position
from application.ports.offers import Failure, OfferRound
from domain.commands import CommandFailed, CommandResult, CommandSucceeded, FailureReason
from domain.money import Money
from domain.offers import (
    MAX_OFFERS_PER_COMMAND,
    BatchCommand,
    BatchKind,
    OfferRequest,
    PublicationAction,
    SetPrice,
    SetStock,
)

UNKNOWN_SKU = "UNKNOWN_SKU"

# Which value a batch command writes: "stock" (quantity, END, ACTIVATE) or "price@<marketplace>".
Write = str
STOCK: Write = "stock"


def price_write(marketplace: str | None) -> Write:
    return f"price@{marketplace or ''}"


# Per batch command id: the offers it failed for (absent: every offer succeeded).
Failures = Mapping[uuid.UUID, Mapping[str, Failure]]


def round_span(positions: Iterable[Position]) -> tuple[str, tuple[Position, ...]]:
    """The round key (`p<partition>:<first>-<last>,...`) and the last position per partition
    (what the round covers and commits)."""
    spans: dict[int, tuple[int, int]] = {}
    for position in positions:
        first, last = spans.get(position.partition, (position.offset, position.offset))
        spans[position.partition] = (min(first, position.offset), max(last, position.offset))
    ordered = sorted(spans.items())
    key = ",".join(f"p{partition}:{first}-{last}" for partition, (first, last) in ordered)
    covers = tuple(Position(partition, last) for partition, (_, last) in ordered)
    return key, covers


def latest_stock(requests: Sequence[OfferRequest]) -> dict[str, int]:
    """The last `SetStock` value per SKU, in arrival order."""
    return {r.command.sku: r.command.available for r in requests if isinstance(r.command, SetStock)}


def latest_prices(requests: Sequence[OfferRequest]) -> dict[tuple[str, str | None], Money]:
    """The last `SetPrice` per (SKU, marketplace), in arrival order."""
    return {
        (r.command.sku, r.command.marketplace): r.command.price
        for r in requests
        if isinstance(r.command, SetPrice)
    }


def on_base_marketplace(
    requests: Sequence[OfferRequest], base_of: Callable[[str], str | None]
) -> list[OfferRequest]:
    """`SetPrice`s naming their SKU's base marketplace as naming none: the same write, so the
    later of the two wins (planned apart, the older could be sent last). `base_of`: the base
    marketplace of a SKU's offers (None: unknown, left as it is)."""
    return [
        dataclasses.replace(r, command=dataclasses.replace(r.command, marketplace=None))
        if isinstance(r.command, SetPrice)
        and r.command.marketplace is not None
        and r.command.marketplace == base_of(r.command.sku)
        else r
        for r in requests
    ]


def restocked_offers(
    requests: Sequence[OfferRequest], offers_by_sku: Mapping[str, Sequence[str]]
) -> set[str]:
    """Offers whose stock the round sets to 1 or more: the ones that may need re-activating."""
    return {
        offer_id
        for sku, available in latest_stock(requests).items()
        if available >= 1
        for offer_id in offers_by_sku.get(sku, ())
    }


def plan_round(
    account: str,
    positions: Iterable[Position],
    requests: Sequence[OfferRequest],
    offers_by_sku: Mapping[str, Sequence[str]],
    reactivatable: Collection[str] = (),
) -> OfferRound:
    """The round answering `requests` (the valid commands received at `positions`, in
    arrival order). `reactivatable`: offers ended by the service or by Allegro for empty
    stock; those the round restocks are re-activated once their quantity is set."""
    round_key, covers = round_span(positions)
    skus = sorted({r.command.sku for r in requests})
    resolved = {sku: tuple(sorted(set(offers_by_sku.get(sku, ())))) for sku in skus}
    quantities: dict[int, set[str]] = {}
    ended: set[str] = set()
    for sku, available in latest_stock(requests).items():
        target = quantities.setdefault(available, set()) if available >= 1 else ended
        target.update(resolved[sku])
    prices: dict[tuple[str, str, Decimal], tuple[Money, set[str]]] = {}
    for (sku, marketplace), price in latest_prices(requests).items():
        group = (marketplace or "", price.currency, price.amount.normalize())
        prices.setdefault(group, (price, set()))[1].update(resolved[sku])
    commands: list[BatchCommand] = []
    for value, offers in sorted(quantities.items()):
        commands += _chunked(account, round_key, BatchKind.QUANTITY, offers, quantity=value)
    for (marketplace, _, _), (price, offers) in sorted(prices.items()):
        commands += _chunked(
            account,
            round_key,
            BatchKind.PRICE,
            offers,
            price=price,
            marketplace=marketplace or None,
        )
    commands += _chunked(
        account, round_key, BatchKind.PUBLICATION, ended, action=PublicationAction.END
    )
    restocked = {o for offers in quantities.values() for o in offers}
    return OfferRound(
        round_key=round_key,
        covers=covers,
        requests=tuple(requests),
        offers_by_sku=tuple(resolved.items()),
        commands=tuple(commands),
        reactivate=tuple(sorted(restocked & set(reactivatable))),
    )


def activations(account: str, offer_round: OfferRound, failures: Failures) -> list[BatchCommand]:
    """The ACTIVATE commands of the round: its offers to re-activate whose quantity was set.
    Derived from Allegro's task outcomes, which are final: a restart derives the same ones."""
    if not offer_round.reactivate:
        return []
    not_set = {
        offer_id
        for command in offer_round.commands
        if command.kind is BatchKind.QUANTITY
        for offer_id in failures.get(command.command_id, {})
    }
    wanted = set(offer_round.reactivate) - not_set
    return _chunked(
        account,
        offer_round.round_key,
        BatchKind.PUBLICATION,
        wanted,
        action=PublicationAction.ACTIVATE,
    )


def round_results(
    account: str,
    offer_round: OfferRound,
    commands: Sequence[BatchCommand],
    failures: Failures,
) -> list[CommandResult]:
    """One result per request, in arrival order. `commands`: every batch command the round
    sent (its own, then its activations). A request fails with the first failure (in the
    order the commands were sent, then by offer id) among its SKU's offers in the write that
    carried the SKU's last value; a SKU with no offer fails as `UNKNOWN_SKU`."""
    first_failure = _failures_by_write(commands, failures)
    offers_by_sku = dict(offer_round.offers_by_sku)
    results: list[CommandResult] = []
    for request in offer_round.requests:
        command = request.command
        offers = offers_by_sku.get(command.sku, ())
        if not offers:
            message = f"no offer has the SKU {command.sku!r}"
            results.append(_failed(account, request, message, UNKNOWN_SKU))
            continue
        write = STOCK if isinstance(command, SetStock) else price_write(command.marketplace)
        failure = next(
            (first_failure[(write, o)] for o in offers if (write, o) in first_failure), None
        )
        if failure is None:
            results.append(_succeeded(account, request))
        else:
            results.append(_failed(account, request, failure.message, failure.code))
    return results


def finished_offers(
    commands: Sequence[BatchCommand], failures: Failures
) -> tuple[set[str], set[str]]:
    """(offers the round ended, offers it re-activated): what the store remembers."""
    ended: set[str] = set()
    reactivated: set[str] = set()
    for command in commands:
        if command.kind is not BatchKind.PUBLICATION:
            continue
        done = set(command.offer_ids) - set(failures.get(command.command_id, {}))
        (ended if command.action is PublicationAction.END else reactivated).update(done)
    return ended, reactivated


def _failures_by_write(
    commands: Sequence[BatchCommand], failures: Failures
) -> dict[tuple[Write, str], Failure]:
    first: dict[tuple[Write, str], Failure] = {}
    for command in commands:
        write = STOCK if command.kind is not BatchKind.PRICE else price_write(command.marketplace)
        failed = failures.get(command.command_id, {})
        for offer_id in command.offer_ids:
            if offer_id in failed:
                first.setdefault((write, offer_id), failed[offer_id])
    return first


def _chunked(
    account: str,
    round_key: str,
    kind: BatchKind,
    offers: Collection[str],
    *,
    quantity: int | None = None,
    price: Money | None = None,
    marketplace: str | None = None,
    action: PublicationAction | None = None,
) -> list[BatchCommand]:
    ordered = sorted(offers)
    return [
        BatchCommand.build(
            account,
            round_key,
            kind,
            ordered[start : start + MAX_OFFERS_PER_COMMAND],
            quantity=quantity,
            price=price,
            marketplace=marketplace,
            action=action,
        )
        for start in range(0, len(ordered), MAX_OFFERS_PER_COMMAND)
    ]


def _succeeded(account: str, request: OfferRequest) -> CommandSucceeded:
    command = request.command
    return CommandSucceeded(
        command_id=command.command_id,
        command_type=command.command_type,
        account=account,
        checkout_form_id=None,
        occurred_at=request.at,
        sku=command.sku,
    )


def _failed(account: str, request: OfferRequest, message: str, code: str | None) -> CommandFailed:
    command = request.command
    return CommandFailed(
        command_id=command.command_id,
        command_type=command.command_type,
        account=account,
        checkout_form_id=None,
        occurred_at=request.at,
        reason=FailureReason.REJECTED,
        message=message,
        code=code,
        sku=command.sku,
    )
