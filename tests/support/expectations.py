"""What MUST be on the orders topic, computed from the simulator, and an audit of a topic.

The simulator is the oracle: an order that ever reached READY_FOR_PROCESSING must have an
OrderImported; the last event published for it must carry the status triple its final
checkout form derives to; and every event id must carry the same bytes wherever it
appears. What the service decided in between (which revision it happened to read) depends
on timing, so it is not predicted, only checked for consistency.

When every order was finished before the service first ran (a quiescent simulator), the
outcome is exact: one OrderImported per order, at its final revision, and nothing else
(`quiescent_event_ids`).

Independence: the expected statuses and event ids are written out here from the documents
(README "Messages": the status table and the event id's inputs), never computed by the
production `StatusMapping` or `event_id`, so a bug in either makes these expectations
disagree with the topic instead of agreeing with it.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice, pairwise
from typing import Any

from sandbox.allegro import SimulatorState
from tests.support.kafka_reader import ConsumedRecord

IMPORTED = "openoms.order.imported.v1"
STATUS_CHANGED = "openoms.order.status_changed.v1"
# Carries the whole order, its status triple included, but says only that content changed:
# its id covers a fingerprint of that content (no recipe to recompute it from a record).
UPDATED = "openoms.order.updated.v1"
TRIGGER = "READY_FOR_PROCESSING"

Triple = tuple[str, str, str | None]

# README "Messages", row by row: a paid
# (READY_FOR_PROCESSING) order's fulfillment status -> `order_status`; absent counts as NEW.
PAID_ORDER_STATUS: Mapping[str, str] = {
    "NEW": "new",
    "PROCESSING": "processing",
    "READY_FOR_SHIPMENT": "ready_to_ship",
    "READY_FOR_PICKUP": "ready_to_ship",
    "SENT": "shipped",
    "PICKED_UP": "delivered",
    "SUSPENDED": "on_hold",
    "CANCELLED": "cancelled",
    "RETURNED": "refunded",
}
# The published `event_id` namespace: uuid5(NAMESPACE_URL,
# "https://openoms.org/integrations/allegro"), written out as a literal because consumers
# that deduplicate across versions depend on the value itself.
EVENT_ID_NAMESPACE = uuid.UUID("f495570b-d861-59c9-b4a0-aa6f197c53fc")
IMPORTED_EVENT_TYPE = "OrderImported"
# ce_type -> the event type in the id; a status change's id also covers its triple.
EVENT_TYPES: Mapping[str, str] = {
    IMPORTED: IMPORTED_EVENT_TYPE,
    STATUS_CHANGED: "OrderStatusChanged",
}


def documented_event_id(
    account: str, order_id: str, revision: str, event_type: str, *triple: str
) -> str:
    """README: "`event_id` is a UUIDv5 over (account, checkout form id, revision, event
    type[, status triple])", the parts joined with "|"."""
    return str(
        uuid.uuid5(EVENT_ID_NAMESPACE, "|".join((account, order_id, revision, event_type, *triple)))
    )


def documented_triple(form: Mapping[str, Any], published_payment: str | None) -> Triple:
    """The status triple the README's table gives a checkout form as Allegro serves it.

    `published_payment`: the payment status published before, which a cancellation keeps
    ("unchanged"); without one, a cancelled order is paid only if money arrived."""
    status = form["status"]
    fulfillment = (form.get("fulfillment") or {}).get("status")
    payment = form.get("payment") or {}
    cash_on_delivery = payment.get("type") == "CASH_ON_DELIVERY"
    if status == "CANCELLED":
        paid = payment.get("paidAmount") is not None and not cash_on_delivery
        return ("cancelled", published_payment or ("paid" if paid else "pending"), fulfillment)
    if status in ("BOUGHT", "FILLED_IN"):
        return ("new", "pending", fulfillment)
    assert status == "READY_FOR_PROCESSING", f"no documented mapping for status {status!r}"
    order_status = PAID_ORDER_STATUS[fulfillment or "NEW"]
    return (order_status, "cash_on_delivery" if cash_on_delivery else "paid", fulfillment)


@dataclass(frozen=True, slots=True)
class Expected:
    """The simulator's truth at the end of a run."""

    account: str
    imports: frozenset[str]
    """Orders that must have an OrderImported (they reached the trigger)."""
    final_forms: Mapping[str, Mapping[str, Any]]
    """The final checkout form (Allegro's JSON) of every order in `imports`."""
    revisions: Mapping[str, frozenset[str]]
    """Every revision the journal ever showed, per order: nothing else may be published."""

    def final_triple(self, order_id: str, import_payment: str | None) -> Triple:
        """The triple the final form derives to. A cancelled order keeps the payment status
        it was published with, so the import's payment status is the one to carry over."""
        return documented_triple(self.final_forms[order_id], import_payment)


def expected_events(state: SimulatorState, account: str) -> Expected:
    imports = frozenset(oid for oid in state.order_ids() if state.ever_reached(oid, TRIGGER))
    forms = {oid: state.checkout_form(oid) for oid in imports}
    revisions: dict[str, set[str]] = defaultdict(set)
    for event in state.journal():
        form = (event.get("order") or {}).get("checkoutForm") or {}
        if form.get("id") and form.get("revision"):
            revisions[form["id"]].add(form["revision"])
    for oid in state.order_ids():
        revisions[oid].add(state.revision_of(oid))
    return Expected(
        account=account,
        imports=imports,
        final_forms=forms,
        revisions={oid: frozenset(revs) for oid, revs in revisions.items()},
    )


def quiescent_event_ids(state: SimulatorState, account: str) -> dict[str, str]:
    """ce_id -> order id of the exact event set for a simulator that was finished before
    the service first read it: one OrderImported per order, at its current revision."""
    return {
        documented_event_id(account, oid, state.revision_of(oid), IMPORTED_EVENT_TYPE): oid
        for oid in state.order_ids()
        if state.ever_reached(oid, TRIGGER)
    }


def _first_five(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A sample of `mapping` short enough for an assertion message."""
    return dict(islice(mapping.items(), 5))


@dataclass(slots=True)
class TopicAudit:
    """Everything a test wants to know about a topic against `Expected`."""

    records: int = 0
    distinct_ids: int = 0
    duplicates: int = 0
    """Records whose ce_id appeared earlier on the topic (re-sent after a crash)."""
    conflicting_ids: dict[str, list[str]] = field(default_factory=dict)
    """ce_ids seen with different key, headers or value (a broken replay) -> what differs."""
    missing_imports: set[str] = field(default_factory=set)
    unexpected_imports: set[str] = field(default_factory=set)
    wrong_final: dict[str, tuple[Triple | None, Triple]] = field(default_factory=dict)
    """order -> (last published triple, expected triple)."""
    changed_before_import: set[str] = field(default_factory=set)
    unknown_revisions: dict[str, str] = field(default_factory=dict)
    wrong_ids: dict[str, str] = field(default_factory=dict)
    """ce_id -> the id the README's recipe gives that event (account, order, revision...)."""
    extra_imports: int = 0
    """Orders with more than one distinct OrderImported id (re-decided after a crash)."""
    repeated_triples: int = 0
    """Distinct events that repeat their predecessor's triple (re-decided after a crash)."""

    def problems(self) -> list[str]:
        """The broken guarantees; empty when nothing was lost and no replay differed."""
        found = []
        if self.conflicting_ids:
            sample = _first_five(self.conflicting_ids)
            found.append(f"ce_ids re-sent with other bytes (and what differs): {sample}")
        if self.missing_imports:
            found.append(f"orders never imported: {sorted(self.missing_imports)[:5]}")
        if self.unexpected_imports:
            found.append(f"orders imported without reaching the trigger: {self.unexpected_imports}")
        if self.wrong_final:
            sample = _first_five(self.wrong_final)
            found.append(f"last published triple differs from the final form: {sample}")
        if self.changed_before_import:
            found.append(f"status changes before the import: {self.changed_before_import}")
        if self.unknown_revisions:
            found.append(f"revisions the journal never showed: {self.unknown_revisions}")
        if self.wrong_ids:
            sample = _first_five(self.wrong_ids)
            found.append(f"event ids other than the documented recipe gives (-> recipe): {sample}")
        return found

    def summary(self) -> str:
        return (
            f"records={self.records} distinct_ids={self.distinct_ids} "
            f"duplicates={self.duplicates} extra_imports={self.extra_imports} "
            f"repeated_triples={self.repeated_triples}"
        )


def audit(records: Iterable[ConsumedRecord], expected: Expected) -> TopicAudit:
    result = TopicAudit()
    first_seen: dict[str, ConsumedRecord] = {}
    per_order: dict[str, list[ConsumedRecord]] = defaultdict(list)
    last_record: dict[str, ConsumedRecord] = {}
    for record in records:
        result.records += 1
        ce_id = record.header("ce_id")
        last_record[record.header("ce_subject")] = record
        if ce_id in first_seen:
            result.duplicates += 1
            differs = _differences(first_seen[ce_id], record)
            if differs and ce_id not in result.conflicting_ids:
                result.conflicting_ids[ce_id] = differs
            continue
        first_seen[ce_id] = record
        per_order[record.header("ce_subject")].append(record)
    result.distinct_ids = len(first_seen)
    imported = {oid for oid, recs in per_order.items() if _types(recs)[IMPORTED]}
    result.missing_imports = set(expected.imports - imported)
    result.unexpected_imports = imported - expected.imports
    for oid, recs in per_order.items():
        _audit_order(result, expected, oid, recs, last_record[oid])
    return result


def _differences(first: ConsumedRecord, again: ConsumedRecord) -> list[str]:
    """Names of what differs between two records of one ce_id (empty: byte-identical)."""
    differs = []
    if first.key != again.key:
        differs.append("key")
    if first.headers != again.headers:
        differs.append("headers")
    if first.value != again.value:
        before, after = first.json(), again.json()
        differs += sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return differs


def _types(records: list[ConsumedRecord]) -> Counter[str]:
    return Counter(record.header("ce_type") for record in records)


def _documented_id(account: str, oid: str, ce_type: str, message: Mapping[str, Any]) -> str | None:
    event_type = EVENT_TYPES.get(ce_type)
    if event_type is None:
        return None  # a type without a documented id recipe
    revision = message["revision"] or ""
    if event_type == IMPORTED_EVENT_TYPE:
        return documented_event_id(account, oid, revision, event_type)
    order_status, payment_status, fulfillment = _triple(message)
    return documented_event_id(
        account, oid, revision, event_type, order_status, payment_status, fulfillment or ""
    )


def _triple(message: Mapping[str, Any]) -> Triple:
    return (message["order_status"], message["payment_status"], message["fulfillment_status"])


def _audit_order(
    result: TopicAudit,
    expected: Expected,
    oid: str,
    records: list[ConsumedRecord],
    last: ConsumedRecord,
) -> None:
    """`records`: the distinct events of one order, in topic order (one partition per key);
    `last`: its last record, which a consumer that does not deduplicate ends with."""
    messages = [record.json() for record in records]
    if records[0].header("ce_type") != IMPORTED:
        result.changed_before_import.add(oid)
    if _types(records)[IMPORTED] > 1:
        result.extra_imports += 1
    known = expected.revisions.get(oid, frozenset())
    for record, message in zip(records, messages, strict=True):
        if message["revision"] not in known:
            result.unknown_revisions[oid] = message["revision"]
        recipe = _documented_id(expected.account, oid, record.header("ce_type"), message)
        if recipe is not None and recipe != record.header("ce_id"):
            result.wrong_ids[record.header("ce_id")] = recipe
    triples = [_triple(message) for message in messages]
    statuses = [
        triple
        for triple, record in zip(triples, records, strict=True)
        if record.header("ce_type") != UPDATED
    ]
    result.repeated_triples += sum(1 for a, b in pairwise(statuses) if a == b)
    if oid in expected.imports:
        first = messages[0]
        # Cancelled after the import: the payment status published before carries over.
        import_payment = first["payment_status"] if first["order_status"] != "cancelled" else None
        want = expected.final_triple(oid, import_payment)
        for seen in (triples[-1], _triple(last.json())):
            if seen != want:
                result.wrong_final[oid] = (seen, want)
