"""The simulated seller account: orders, the event journal, tokens, limits and faults.

Shared between the test thread and the server thread, so every public method takes the
lock. Checkout forms are treated as immutable values (each change stores a new dict), so
the HTTP layer can serialise a form it got from here without holding the lock.
"""

from __future__ import annotations

import json
import random
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from adapters.simulator.clock import Clock, SystemClock
from adapters.simulator.config import FaultPlan, SimulatorConfig
from adapters.simulator.faults import Verdict, decide
from adapters.simulator.forms import (
    EMPTY,
    EVENT_TYPES,
    SETTABLE_FULFILLMENT,
    Json,
    fulfillment,
    money,
    payment_reference,
    snapshot_base,
    total_to_pay,
)
from adapters.simulator.generator import LineItemSpec, OrderGenerator
from adapters.simulator.ids import FastRandom, IdFactory
from adapters.simulator.journal import EventJournal
from adapters.simulator.orderstore import ListQuery, OrderKeys, OrderStore
from adapters.simulator.ratelimit import SlidingWindowLimiter
from adapters.simulator.timefmt import iso_millis, to_micros
from adapters.simulator.tokens import AccessGrant, TokenAuthority

_T = TypeVar("_T")
_UNPAID = frozenset({"BOUGHT", "FILLED_IN"})
_DAY_US = 86_400 * 1_000_000


class RequestLogEntry(NamedTuple):
    monotonic: float
    wall: float
    method: str
    path: str
    query: str  # token-bearing parameters are redacted
    status: int
    client_id: str | None


class OrderNotFound(KeyError):
    pass


class RevisionConflict(Exception):
    pass


class SimulatorState:
    def __init__(self, cfg: SimulatorConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = cfg = cfg or SimulatorConfig()
        self.clock: Clock = clock or SystemClock()
        self.faults = FaultPlan()
        self._lock = threading.RLock()
        self._rng = FastRandom(cfg.seed)
        self._fault_rng = random.Random(cfg.seed + 1)  # faults must not shift the order data
        self._ids = IdFactory(self._rng)
        self._gen = OrderGenerator(self._rng, self._ids)
        self._store = OrderStore()
        self._journal = EventJournal()
        self._bases: dict[str, Json] = {}
        self._payment_kind: dict[str, tuple[str, str | None]] = {}
        self._history: dict[str, set[str]] = {}
        self.merged_into: dict[str, str] = {}
        self._limiter = SlidingWindowLimiter(cfg.rate_limit_per_minute, cfg.block_seconds)
        self._log: deque[RequestLogEntry] = deque(maxlen=cfg.request_log_limit)
        self._auth = TokenAuthority(
            client_id=cfg.client_id,
            client_secret=cfg.client_secret,
            user_id=cfg.seller_id,
            access_ttl=float(cfg.access_token_ttl),
            refresh_ttl=cfg.refresh_token_ttl,
            grace=cfg.refresh_grace_seconds,
            device_interval=float(cfg.device_interval_seconds),
            device_ttl=float(cfg.device_code_ttl),
        )
        self.initial_refresh_token: str = self._auth.new_session(self.clock.wall())

    # ----------------------------------------------------------------- buyer & Allegro side

    def place_order(
        self,
        marketplace: str = "allegro-pl",
        payment: str | None = None,
        guest: bool | None = None,
        invoice: bool | None = None,
        pickup_point: bool | None = None,
        line_items: int | Sequence[LineItemSpec] | None = None,
        *,
        emit: bool = True,
    ) -> str:
        """A new purchase (status BOUGHT); returns the checkout form id and emits BOUGHT.

        `emit=False` holds the BOUGHT event back, so a script can deliver it late with
        `duplicate_event(id, "BOUGHT", revision=...)` (out-of-order journals happen).
        """
        with self._lock:
            order_id = self._place(marketplace, payment, guest, invoice, pickup_point, line_items)
            if emit:
                self._emit(order_id, "BOUGHT")
            return order_id

    def fill_in(self, order_id: str) -> None:
        with self._lock:
            form = self._form(order_id, allowed=_UNPAID)
            self._save(
                order_id, {**form, "payment": self._unpaid_payment(order_id, form)}, "FILLED_IN"
            )
            self._emit(order_id, "FILLED_IN")

    def pay(self, order_id: str) -> None:
        """Paid (or COD confirmed): READY_FOR_PROCESSING, the usual import trigger."""
        with self._lock:
            form = self._form(order_id, allowed=_UNPAID)
            unpaid = self._unpaid_payment(order_id, form)
            cod = unpaid["type"] == "CASH_ON_DELIVERY"
            # COD: finishedAt is set although nothing was paid yet, paidAmount stays null.
            paid = {
                **unpaid,
                "finishedAt": iso_millis(self._now_us()),
                "paidAmount": None if cod else form["summary"]["totalToPay"],
            }
            self._save(order_id, {**form, "payment": paid}, "READY_FOR_PROCESSING")
            self._emit(order_id, "READY_FOR_PROCESSING")

    def buyer_cancel(self, order_id: str) -> None:
        with self._lock:
            form = self._form(order_id)
            if form["status"] == "CANCELLED":
                raise ValueError(f"order {order_id} is already cancelled")
            self._save(order_id, form, "CANCELLED")  # fulfillment.status stays as it was
            self._emit(order_id, "BUYER_CANCELLED")

    def auto_cancel(self, order_id: str) -> None:
        """Allegro cancels a prepaid order that was not paid in time."""
        with self._lock:
            form = self._form(order_id, allowed=_UNPAID)
            self._save(order_id, form, "CANCELLED")
            self._emit(order_id, "AUTO_CANCELLED")

    def add_surcharge(self, order_id: str, amount: str | None = None) -> str:
        """A buyer top-up ("dopłata"): surcharges[] grows, so does the total; RFP again."""
        with self._lock:
            form = self._form(order_id, allowed={"READY_FOR_PROCESSING"})
            currency = form["summary"]["totalToPay"]["currency"]
            loc = self._gen.locale(form["marketplace"]["id"])
            value = (
                Decimal(amount)
                if amount is not None
                else Decimal(self._rng.randrange(300, 1500)) / 100 * loc.price_factor
            )
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

    def merge(self, order_ids: Sequence[str]) -> str:
        """The buyer pays several purchases together: a new form, the old ids vanish (404)."""
        with self._lock:
            if len(set(order_ids)) < 2:
                raise ValueError("merging needs at least two different orders")
            forms = [self._form(oid, allowed=_UNPAID) for oid in order_ids]
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
                "fulfillment": fulfillment("NEW"),
                "lineItems": [item for f in forms for item in f["lineItems"]],  # same item ids
                "surcharges": EMPTY,
                "updatedAt": iso_millis(now_us),
                "revision": self._ids.revision(),
            }
            merged["summary"] = {
                "totalToPay": money(
                    total_to_pay(merged), first["summary"]["totalToPay"]["currency"]
                )
            }
            bought_us = max(self._store.keys_of(oid).bought_us for oid in order_ids)
            self._payment_kind[new_id] = self._payment_kind[order_ids[0]]
            for oid in order_ids:
                self._store.delete(oid)
                self.merged_into[oid] = new_id
            self._insert(new_id, merged, bought_us, now_us)
            self._emit(new_id, "BOUGHT")
            return new_id

    def set_fulfillment(
        self, order_id: str, status: str, *, expected_revision: str | None = None
    ) -> None:
        """The seller's label; revision changes, updatedAt does not (seller-side change)."""
        if status not in SETTABLE_FULFILLMENT:
            raise ValueError(f"fulfillment status {status!r} cannot be set")
        with self._lock:
            form = self._form(order_id)
            if expected_revision is not None and expected_revision != form["revision"]:
                raise RevisionConflict(order_id)
            self._set_fulfillment(order_id, form, status)

    def returned(self, order_id: str) -> None:
        """Allegro marks the order RETURNED after a full refund (sellers cannot set it)."""
        with self._lock:
            self._set_fulfillment(order_id, self._form(order_id), "RETURNED")

    def duplicate_event(
        self, order_id: str, event_type: str, *, revision: str | None = None
    ) -> str:
        """Re-emit an event with the current snapshot: the journal does deliver duplicates.

        `revision` makes it a late event that still carries the revision it was born with.
        Returns the new event id.
        """
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        with self._lock:
            self._form(order_id)
            return self._emit(order_id, event_type, revision)

    def script_mixed_lifecycles(self, n: int, seed: int = 0) -> list[str]:
        """n orders through mixed, interleaved lifecycles; returns their final ids."""
        from adapters.simulator.lifecycles import run_script  # lifecycles drive this class

        return run_script(self, n, seed)

    # ----------------------------------------------------------------- inspection

    def ever_reached(self, order_id: str, status: str) -> bool:
        with self._lock:
            return status in self._history.get(order_id, set())

    def checkout_form(self, order_id: str) -> Json:
        """A private copy with plain lists, exactly what GET would return."""
        with self._lock:
            form = self._form(order_id)
        return _fresh(form)

    def revision_of(self, order_id: str) -> str:
        with self._lock:
            return str(self._form(order_id)["revision"])

    def order_ids(self) -> list[str]:
        with self._lock:
            return list(self._store.ids())

    def journal(self) -> list[Json]:
        with self._lock:
            rendered = [e.render() for e in self._journal.retained(self._retention_floor())]
        return _fresh(rendered)

    def drop_journal_events(self, ids: Iterable[str]) -> None:
        with self._lock:
            self._journal.drop(int(i) for i in ids)

    def expire_journal_before(self, event_id: str) -> None:
        with self._lock:
            self._journal.expire_before(int(event_id))

    @property
    def request_log(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._log)

    def clear_request_log(self) -> None:
        with self._lock:
            self._log.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            latest = self._journal.latest(self._retention_floor())
            return {
                "orders": len(self._store),
                "events": len(self._journal),
                "latestEventId": str(latest.id) if latest else None,
                "requests": len(self._log),
                "blockedClients": self._limiter.blocked_clients(self.clock.monotonic()),
            }

    # ----------------------------------------------------------------- tokens

    def revoke_tokens(self) -> None:
        with self._lock:
            self._auth.revoke_all()

    def issue_refresh_token(self) -> str:
        """A fresh authorisation, as if the seller had logged in again."""
        with self._lock:
            return self._auth.new_session(self.clock.wall())

    def approve_device(self, user_code: str) -> None:
        with self._lock:
            self._auth.decide_device(user_code, approve=True)

    def deny_device(self, user_code: str) -> None:
        with self._lock:
            self._auth.decide_device(user_code, approve=False)

    @property
    def auth(self) -> TokenAuthority:
        """For the HTTP layer; call it under `locked()`."""
        return self._auth

    def locked(self) -> threading.RLock:
        return self._lock

    # ----------------------------------------------------------------- HTTP-facing reads

    def authenticate(self, token: str) -> AccessGrant:
        with self._lock:
            return self._auth.authenticate(token, self.clock.wall())

    def client_for_token(self, token: str) -> str | None:
        with self._lock:
            return self._auth.client_of(token)

    def gate(self, client_id: str | None) -> Verdict:
        """Rate limit, then faults: what Allegro's edge does before the resource runs."""
        with self._lock:
            now = self.clock.monotonic()
            if client_id is not None and not self._limiter.admit(client_id, now):
                return Verdict(status=429)
            verdict = decide(self.faults, self._fault_rng)
            if verdict.block and client_id is not None:
                self._limiter.block(client_id, now)
            return verdict

    def record(self, method: str, path: str, query: str, status: int, client: str | None) -> None:
        with self._lock:
            entry = RequestLogEntry(
                self.clock.monotonic(), self.clock.wall(), method, path, query, status, client
            )
            self._log.append(entry)

    def events_page(self, after: int | None, types: set[str] | None, limit: int) -> list[Json]:
        with self._lock:
            events = self._journal.read(after, types, limit, self._retention_floor())
            return [e.render() for e in events]

    def latest_event(self) -> Json | None:
        with self._lock:
            latest = self._journal.latest(self._retention_floor())
            if latest is None:
                return None
            return {"id": str(latest.id), "occurredAt": iso_millis(latest.id)}

    def find_form(self, order_id: str) -> Json | None:
        with self._lock:
            return self._store.get(order_id)

    def list_forms(self, query: ListQuery) -> tuple[list[Json], int]:
        with self._lock:
            return self._store.query(query)

    # ----------------------------------------------------------------- internals

    def _now_us(self) -> int:
        return to_micros(self.clock.wall())

    def _retention_floor(self) -> int:
        return self._now_us() - self.config.event_retention_days * _DAY_US

    def _form(self, order_id: str, allowed: Iterable[str] | None = None) -> Json:
        form = self._store.get(order_id)
        if form is None:
            raise OrderNotFound(order_id)
        if allowed is not None and form["status"] not in allowed:
            raise ValueError(f"order {order_id} is {form['status']}, expected one of {allowed}")
        return form

    def _place(
        self,
        marketplace: str,
        payment: str | None,
        guest: bool | None,
        invoice: bool | None,
        pickup_point: bool | None,
        line_items: int | Sequence[LineItemSpec] | None,
    ) -> str:
        if payment is None:
            payment = "CASH_ON_DELIVERY" if self._rng.random() < 0.15 else "ONLINE"
        if payment not in ("ONLINE", "CASH_ON_DELIVERY"):
            raise ValueError(f"payment must be ONLINE or CASH_ON_DELIVERY, not {payment!r}")
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
        provider = None if payment == "CASH_ON_DELIVERY" else self._rng.choice(("P24", "PAYU"))
        self._payment_kind[order_id] = (payment, provider)
        self._insert(order_id, form, now_us, now_us)
        return order_id

    def _insert(self, order_id: str, form: Json, bought_us: int, updated_us: int) -> None:
        self._bases[order_id] = snapshot_base(form, self.config.seller_id)
        self._history[order_id] = {form["status"]}
        self._store.put(order_id, form, self._keys(form, bought_us, updated_us))

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
        self._store.put(order_id, changed, self._keys(changed, old.bought_us, now_us))
        self._history[order_id].add(status)

    def _set_fulfillment(self, order_id: str, form: Json, status: str) -> None:
        if form["fulfillment"]["status"] == status:
            return  # nothing changes, nothing is emitted
        changed = {
            **form,
            "fulfillment": fulfillment(
                status, form["fulfillment"]["shipmentSummary"]["lineItemsSent"]
            ),
            "revision": self._ids.revision(form["revision"]),
        }
        old = self._store.keys_of(order_id)
        self._store.put(order_id, changed, self._keys(changed, old.bought_us, old.updated_us))
        self._emit(order_id, "FULFILLMENT_STATUS_CHANGED")

    def _emit(self, order_id: str, event_type: str, revision: str | None = None) -> str:
        form = self._store.get(order_id)
        rev = revision or (form["revision"] if form else "")
        base = self._bases[order_id]
        return str(self._journal.append(event_type, order_id, rev, base, self._now_us()))

    @staticmethod
    def _keys(form: Json, bought_us: int, updated_us: int) -> OrderKeys:
        # Filters compare with what the form shows, and the form shows milliseconds.
        return OrderKeys(
            bought_us=bought_us - bought_us % 1000,
            updated_us=updated_us - updated_us % 1000,
            status=form["status"],
            fulfillment=form["fulfillment"]["status"],
            marketplace=form["marketplace"]["id"],
            login=form["buyer"]["login"],
        )


def _fresh(value: _T) -> _T:
    """A deep copy via JSON: shared sub-objects and tuples become private dicts and lists."""
    copied: _T = json.loads(json.dumps(value))
    return copied
