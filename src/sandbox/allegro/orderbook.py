"""The seller's orders and their event journal: every buyer, Allegro and seller action.

Not thread-safe on its own; `SimulatorState` wraps it in a lock. Checkout forms are
immutable values (each change stores a new dict), so a form handed out can be serialised
while other threads keep changing the book.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sandbox.allegro.clock import Clock
from sandbox.allegro.forms import (
    BUYER_CHANGES,
    EMPTY,
    EVENT_TYPES,
    SENT_STATUSES,
    SETTABLE_FULFILLMENT,
    Json,
    fulfillment,
    money,
    payment_reference,
    snapshot_base,
    total_to_pay,
)
from sandbox.allegro.generator import POINTS_PER_CITY, LineItemSpec, OrderGenerator, Person
from sandbox.allegro.ids import FastRandom, IdFactory
from sandbox.allegro.journal import EventJournal, JournalEvent
from sandbox.allegro.orderstore import ListQuery, OrderKeys, OrderStore
from sandbox.allegro.timefmt import iso_millis, to_micros

_UNPAID = frozenset({"BOUGHT", "FILLED_IN"})
_PAID = frozenset({"READY_FOR_PROCESSING"})
_DAY_US = 86_400 * 1_000_000
_PAYMENT_TYPES = ("ONLINE", "CASH_ON_DELIVERY", "EXTENDED_TERM")
# Allegro publishes no share of One Fulfillment orders nor an extended payment term's
# length; these are plausible values for a simulated seller (docs/allegro-api.md,
# What the simulator reproduces).
_ONE_FULFILLMENT_SHARE = 0.1
_EXTENDED_TERM_DAYS = 30


class OrderNotFound(KeyError):
    pass


class RevisionConflict(Exception):
    pass


class OrderBook:
    def __init__(self, seed: int, seller_id: str, retention_days: int, clock: Clock) -> None:
        self._clock = clock
        self._seller_id = seller_id
        self._retention_us = retention_days * _DAY_US
        self._rng = FastRandom(seed)
        self._ids = IdFactory(self._rng)
        self._gen = OrderGenerator(self._rng, self._ids)
        self._store = OrderStore()
        self._journal = EventJournal()
        self._bases: dict[str, Json] = {}  # per-form part of every event snapshot
        self._payment_kind: dict[str, tuple[str, str | None]] = {}  # chosen at purchase
        self._history: dict[str, set[str]] = {}  # statuses each order ever held
        self.merged_into: dict[str, str] = {}

    # ----------------------------------------------------------------- actions

    def place(
        self,
        marketplace: str,
        payment: str | None,
        guest: bool | None,
        invoice: bool | None,
        pickup_point: bool | None,
        line_items: int | Sequence[LineItemSpec] | None,
        emit: bool,
        one_fulfillment: bool | None = False,
    ) -> str:
        if payment is None:
            payment = "CASH_ON_DELIVERY" if self._rng.random() < 0.15 else "ONLINE"
        if payment not in _PAYMENT_TYPES:
            raise ValueError(f"payment must be one of {', '.join(_PAYMENT_TYPES)}, not {payment!r}")
        extended = payment == "EXTENDED_TERM"
        if extended:
            # Extended terms (Allegro Pay Business) are for companies, who get an invoice
            # whose dueDate is the end of the term (docs/allegro-api.md, Checkout form).
            if invoice is False:
                raise ValueError("an EXTENDED_TERM purchase comes with an invoice")
            invoice = True
        if one_fulfillment is None:
            one_fulfillment = self._rng.random() < _ONE_FULFILLMENT_SHARE
        now_us = self._now_us()
        order_id = self._ids.uuid1(now_us)
        form = self._gen.checkout_form(
            order_id,
            marketplace,
            guest=guest,
            invoice=invoice,
            pickup_point=pickup_point,
            line_items=line_items,
            now_us=now_us,
            revision=self._ids.revision(),
        )
        currency = form["summary"]["totalToPay"]["currency"]
        form["summary"] = {"totalToPay": money(total_to_pay(form), currency)}
        if one_fulfillment:
            form["fulfillment"] = fulfillment("NEW", "NONE", "ALLEGRO")
        if extended:
            form["invoice"] = {**form["invoice"], "dueDate": _date(now_us, _EXTENDED_TERM_DAYS)}
            provider: str | None = "EPT"
        elif payment == "CASH_ON_DELIVERY":
            provider = None
        else:
            provider = self._rng.choice(("P24", "PAYU"))
        self._payment_kind[order_id] = (payment, provider)
        self._insert(order_id, form, now_us, now_us)
        if emit:
            self._emit(order_id, "BOUGHT")
        return order_id

    def fill_in(self, order_id: str) -> None:
        form = self.form(order_id, allowed=_UNPAID)
        self._save(order_id, {**form, "payment": self._unpaid_payment(order_id, form)}, "FILLED_IN")
        self._emit(order_id, "FILLED_IN")

    def pay(self, order_id: str) -> None:
        form = self.form(order_id, allowed=_UNPAID)
        unpaid = self._unpaid_payment(order_id, form)
        kind = unpaid["type"]
        # COD: finishedAt is set although nothing was paid yet, paidAmount stays null.
        # Extended term: ready to ship now, paid later (`settle_extended_term`), so
        # finishedAt and paidAmount stay null until the money arrives.
        paid = {
            **unpaid,
            "finishedAt": None if kind == "EXTENDED_TERM" else iso_millis(self._now_us()),
            "paidAmount": None if kind != "ONLINE" else form["summary"]["totalToPay"],
        }
        self._save(order_id, {**form, "payment": paid}, "READY_FOR_PROCESSING")
        self._emit(order_id, "READY_FOR_PROCESSING")

    def buyer_cancel(self, order_id: str) -> None:
        form = self.form(order_id)
        if form["status"] == "CANCELLED":
            raise ValueError(f"order {order_id} is already cancelled")
        self._save(order_id, form, "CANCELLED")  # fulfillment.status stays as it was
        self._emit(order_id, "BUYER_CANCELLED")

    def auto_cancel(self, order_id: str) -> None:
        self._save(order_id, self.form(order_id, allowed=_UNPAID), "CANCELLED")
        self._emit(order_id, "AUTO_CANCELLED")

    def add_surcharge(self, order_id: str, amount: str | None) -> str:
        form = self.form(order_id, allowed={"READY_FOR_PROCESSING"})
        currency = form["summary"]["totalToPay"]["currency"]
        if amount is None:
            factor = self._gen.locale(form["marketplace"]["id"]).price_factor
            value = Decimal(self._rng.randrange(300, 1500)) / 100 * factor
        else:
            value = Decimal(amount)
        now_us = self._now_us()
        surcharge = payment_reference(
            self._ids.uuid1(now_us),
            "ONLINE",
            self._rng.choice(("P24", "PAYU")),
            iso_millis(now_us),
            money(value.quantize(Decimal("0.01")), currency),
        )
        changed = {**form, "surcharges": [*form["surcharges"], surcharge]}
        changed["summary"] = {"totalToPay": money(total_to_pay(changed), currency)}
        self._save(order_id, changed, "READY_FOR_PROCESSING")
        self._emit(order_id, "READY_FOR_PROCESSING")
        return str(surcharge["id"])

    def settle_extended_term(self, order_id: str) -> None:
        """The extended-term provider transfers the money: payment.finishedAt and paidAmount
        are set, and READY_FOR_PROCESSING comes a second time (docs/allegro-api.md, Order
        event journal). The payment keeps its id: it is the same payment, now completed."""
        form = self.form(order_id, allowed=_PAID)
        payment = form["payment"]
        if payment["type"] != "EXTENDED_TERM" or payment["finishedAt"] is not None:
            raise ValueError(f"order {order_id} has no extended-term payment waiting")
        currency = form["summary"]["totalToPay"]["currency"]
        # Surcharges are payments of their own: this one pays what was bought and delivery.
        own = money(total_to_pay({**form, "surcharges": EMPTY}), currency)
        paid = {**payment, "finishedAt": iso_millis(self._now_us()), "paidAmount": own}
        self._save(order_id, {**form, "payment": paid}, "READY_FOR_PROCESSING")
        self._emit(order_id, "READY_FOR_PROCESSING")

    def buyer_change(self, order_id: str, change: str) -> None:
        """The buyer edits a paid order: BUYER_MODIFIED, a new revision, `updatedAt` moves.

        `address` and `phone` rewrite `delivery.address` and stamp its `modifiedAt`;
        `pickup_point` picks another point of the same carrier (the address object is
        untouched, so `modifiedAt` too: Allegro does not say otherwise); `invoice` gives new
        invoice data; `resave` saves the same data again.
        """
        if change not in BUYER_CHANGES:
            raise ValueError(f"change must be one of {', '.join(BUYER_CHANGES)}, not {change!r}")
        form = self.form(order_id, allowed=_PAID)
        loc = self._gen.locale(form["marketplace"]["id"])
        delivery = form["delivery"]
        now = iso_millis(self._now_us())
        changed = dict(form)
        if change == "address":
            moved = self._gen.person(loc)
            address = {
                **delivery["address"],
                "street": moved.street,
                "city": moved.city.name,
                "zipCode": moved.postcode,
                "modifiedAt": now,
            }
            changed["delivery"] = {**delivery, "address": address}
        elif change == "phone":
            phone = loc.phone_prefix + self._rng.choice(loc.phone_first_digits)
            address = {**delivery["address"], "phoneNumber": phone + self._ids.digits(8)}
            changed["delivery"] = {**delivery, "address": {**address, "modifiedAt": now}}
        elif change == "pickup_point":
            changed["delivery"] = {**delivery, "pickupPoint": self._other_point(form)}
        elif change == "invoice":
            changed["invoice"] = self._other_invoice(form)
        self._save(order_id, changed, "READY_FOR_PROCESSING")
        self._emit(order_id, "BUYER_MODIFIED")

    def send_line_items(self, order_id: str, count: int | None) -> None:
        """The seller adds tracking numbers for `count` line items (None: all of them).

        `lineItemsSent` becomes SOME or ALL and the revision changes; `updatedAt` does not
        move and no event is emitted: Allegro has none for tracking numbers
        (docs/allegro-api.md, Checkout form).
        """
        form = self.form(order_id)
        total = len(form["lineItems"])
        if count is None:
            count = total
        if not 0 <= count <= total:
            raise ValueError(f"count must be within 0..{total}")
        sent = "NONE" if count == 0 else "ALL" if count == total else "SOME"
        self.set_line_items_sent(order_id, sent)

    def set_line_items_sent(self, order_id: str, sent: str) -> None:
        """A new `lineItemsSent` value: the revision changes, `updatedAt` does not, no event.
        The same value changes nothing (the form's data did not change)."""
        form = self.form(order_id)
        current = form["fulfillment"]
        if current["shipmentSummary"]["lineItemsSent"] == sent:
            return
        changed = {
            **form,
            "fulfillment": fulfillment(current["status"], sent, current["provider"]["id"]),
            "revision": self._ids.revision(form["revision"]),
        }
        old = self._store.keys_of(order_id)
        self._store.put(order_id, changed, _keys(changed, old.bought_us, old.updated_us))

    def merge(self, order_ids: Sequence[str]) -> str:
        if len(set(order_ids)) < 2:
            raise ValueError("merging needs at least two different orders")
        forms = [self.form(oid, allowed=_UNPAID) for oid in order_ids]
        if len({f["marketplace"]["id"] for f in forms}) != 1:
            raise ValueError("only orders of one marketplace can be paid together")
        now_us = self._now_us()
        new_id = self._ids.uuid1(now_us)
        first = forms[0]
        merged: Json = {
            **first,
            "id": new_id,
            "payment": None,
            "status": "BOUGHT",
            "fulfillment": fulfillment("NEW", "NONE", first["fulfillment"]["provider"]["id"]),
            "lineItems": [item for f in forms for item in f["lineItems"]],  # same item ids
            "surcharges": EMPTY,
            "updatedAt": iso_millis(now_us),
            "revision": self._ids.revision(),
        }
        currency = first["summary"]["totalToPay"]["currency"]
        merged["summary"] = {"totalToPay": money(total_to_pay(merged), currency)}
        bought_us = max(self._store.keys_of(oid).bought_us for oid in order_ids)
        self._payment_kind[new_id] = self._payment_kind[order_ids[0]]
        for oid in order_ids:
            self._store.delete(oid)
            self.merged_into[oid] = new_id
        self._insert(new_id, merged, bought_us, now_us)
        self._emit(new_id, "BOUGHT")
        return new_id

    def set_fulfillment(self, order_id: str, status: str, expected_revision: str | None) -> None:
        if status not in SETTABLE_FULFILLMENT:
            raise ValueError(f"fulfillment status {status!r} cannot be set")
        form = self.form(order_id)
        if expected_revision is not None and expected_revision != form["revision"]:
            raise RevisionConflict(order_id)
        self._set_fulfillment(order_id, form, status)

    def returned(self, order_id: str) -> None:
        self._set_fulfillment(order_id, self.form(order_id), "RETURNED")

    def duplicate_event(self, order_id: str, event_type: str, revision: str | None) -> str:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        self.form(order_id)
        return self._emit(order_id, event_type, revision)

    # ----------------------------------------------------------------- reads

    def form(self, order_id: str, allowed: Iterable[str] | None = None) -> Json:
        form = self._store.get(order_id)
        if form is None:
            raise OrderNotFound(order_id)
        if allowed is not None and form["status"] not in allowed:
            raise ValueError(f"order {order_id} is {form['status']}, expected one of {allowed}")
        return form

    def find(self, order_id: str) -> Json | None:
        return self._store.get(order_id)

    def ever_reached(self, order_id: str, status: str) -> bool:
        return status in self._history.get(order_id, ())

    def order_ids(self) -> list[str]:
        return list(self._store.ids())

    def __len__(self) -> int:
        return len(self._store)

    def list_forms(self, query: ListQuery) -> tuple[list[Json], int]:
        return self._store.query(query)

    def events(self, after: int | None, types: set[str] | None, limit: int) -> list[Json]:
        events = self._journal.read(after, types, limit, self._retention_floor())
        return [e.render() for e in events]

    def retained_events(self) -> list[Json]:
        return [e.render() for e in self._journal.retained(self._retention_floor())]

    def latest_event(self) -> JournalEvent | None:
        return self._journal.latest(self._retention_floor())

    @property
    def event_count(self) -> int:
        return len(self._journal)

    def drop_events(self, ids: Iterable[str]) -> None:
        self._journal.drop(int(i) for i in ids)

    def expire_events_before(self, event_id: str) -> None:
        self._journal.expire_before(int(event_id))

    # ----------------------------------------------------------------- internals

    def _now_us(self) -> int:
        return to_micros(self._clock.wall())

    def _retention_floor(self) -> int:
        return self._now_us() - self._retention_us

    def _insert(self, order_id: str, form: Json, bought_us: int, updated_us: int) -> None:
        self._bases[order_id] = snapshot_base(form, self._seller_id)
        self._history[order_id] = {form["status"]}
        self._store.put(order_id, form, _keys(form, bought_us, updated_us))

    def _unpaid_payment(self, order_id: str, form: Json) -> Json:
        if form["payment"] is not None:
            return dict(form["payment"])
        kind, provider = self._payment_kind[order_id]
        return payment_reference(self._ids.uuid1(self._now_us()), kind, provider, None, None)

    def _save(self, order_id: str, form: Json, status: str) -> None:
        """A buyer-side change: new status, new revision, and updatedAt moves."""
        now_us = self._now_us()
        changed = {
            **form,
            "status": status,
            "updatedAt": iso_millis(now_us),
            "revision": self._ids.revision(form["revision"]),
        }
        old = self._store.keys_of(order_id)
        self._store.put(order_id, changed, _keys(changed, old.bought_us, now_us))
        self._history[order_id].add(status)

    def _set_fulfillment(self, order_id: str, form: Json, status: str) -> None:
        """A seller-side change: new revision, updatedAt stays (Allegro's documented quirk)."""
        current = form["fulfillment"]
        if current["status"] == status:
            return  # nothing changes, nothing is emitted
        sent = current["shipmentSummary"]["lineItemsSent"]
        if status in SENT_STATUSES:
            # The simulated seller adds every tracking number when the parcel leaves, so a
            # sent order has all its line items sent; tracking numbers are never taken back.
            sent = "ALL"
        changed = {
            **form,
            "fulfillment": fulfillment(status, sent, current["provider"]["id"]),
            "revision": self._ids.revision(form["revision"]),
        }
        old = self._store.keys_of(order_id)
        self._store.put(order_id, changed, _keys(changed, old.bought_us, old.updated_us))
        self._emit(order_id, "FULFILLMENT_STATUS_CHANGED")

    def _other_point(self, form: Json) -> Json:
        delivery = form["delivery"]
        point = delivery["pickupPoint"]
        if point is None:
            raise ValueError(f"order {form['id']} is not delivered to a pickup point")
        loc = self._gen.locale(form["marketplace"]["id"])
        method = next(m for m in loc.methods if m.id == delivery["method"]["id"])
        while True:
            city = self._rng.choice(loc.cities)
            candidate = self._gen.pickup_point(
                loc, method, city, self._rng.randrange(POINTS_PER_CITY)
            )
            if candidate["id"] != point["id"]:
                return candidate

    def _other_invoice(self, form: Json) -> Json:
        """New company data on the invoice (or a first invoice for a private buyer)."""
        loc = self._gen.locale(form["marketplace"]["id"])
        old = form["invoice"]
        delivery = form["delivery"]["address"]
        address = old["address"] if old["required"] and old["address"] else delivery
        city = next((c for c in loc.cities if c.name == address["city"]), loc.cities[0])
        holder = Person(
            delivery["firstName"],
            delivery["lastName"],
            address["street"],
            city,
            address["zipCode"],
            delivery["phoneNumber"] or "",
        )
        current = (old["address"] or {}).get("company") or {}
        companies = [c for c in loc.companies if c != current.get("name")] or list(loc.companies)
        invoice = self._gen.invoice(loc, holder, self._rng.choice(companies))
        return {**invoice, "dueDate": old.get("dueDate")}

    def _emit(self, order_id: str, event_type: str, revision: str | None = None) -> str:
        rev = revision or self.form(order_id)["revision"]
        base = self._bases[order_id]
        return str(self._journal.append(event_type, order_id, rev, base, self._now_us()))


def _keys(form: Json, bought_us: int, updated_us: int) -> OrderKeys:
    # Filters compare with what the form shows, and the form shows milliseconds.
    fulfilled = form["fulfillment"]
    payment = form["payment"]
    method = (form["delivery"] or {}).get("method")
    return OrderKeys(
        bought_us=bought_us - bought_us % 1000,
        updated_us=updated_us - updated_us % 1000,
        status=form["status"],
        fulfillment=fulfilled["status"],
        marketplace=form["marketplace"]["id"],
        login=form["buyer"]["login"],
        provider=fulfilled["provider"]["id"],
        sent=fulfilled["shipmentSummary"]["lineItemsSent"],
        payment_id=payment["id"] if payment else None,
        surcharge_ids=tuple(s["id"] for s in form["surcharges"]),
        method_id=method["id"] if method else None,
    )


def _date(now_us: int, days: int) -> str:
    """`YYYY-MM-DD`, `days` after `now_us` (UTC), the format of `invoice.dueDate`."""
    return datetime.fromtimestamp(now_us / 1_000_000 + days * 86_400, tz=UTC).date().isoformat()
