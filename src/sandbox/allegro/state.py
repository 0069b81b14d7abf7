"""The simulated seller account: orders, the event journal, tokens, limits and faults.

Shared between the test thread and the server thread, so every public method takes the
lock. The work is done by single-purpose parts (OrderBook, TokenAuthority, the limiter);
this class is the one object tests, the CLI and the HTTP layer talk to.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, TypeVar

from sandbox.allegro.clock import Clock, SystemClock
from sandbox.allegro.clockshift import ShiftedClock
from sandbox.allegro.config import FaultPlan, SimulatorConfig
from sandbox.allegro.faults import Verdict, decide, decide_lost_write
from sandbox.allegro.forms import Json
from sandbox.allegro.generator import LineItemSpec
from sandbox.allegro.offer_desk import CommandNotFound, OfferDesk, failure_policy
from sandbox.allegro.offers import OfferNotFound, OfferQuery, OfferRejected, OfferSpec
from sandbox.allegro.orderbook import OrderBook, OrderNotFound, RevisionConflict
from sandbox.allegro.orderstore import ListQuery
from sandbox.allegro.ratelimit import PerSecondLimiter, SlidingWindowLimiter
from sandbox.allegro.shipments import (
    ShipmentBook,
    ShipmentRejected,
    ShipmentRequest,
    line_items_sent,
    parse_request,
)
from sandbox.allegro.timefmt import iso_millis, to_micros
from sandbox.allegro.tokens import AccessGrant, TokenAuthority

__all__ = [
    "CommandNotFound",
    "OfferNotFound",
    "OfferRejected",
    "OfferSpec",
    "OrderNotFound",
    "RequestLogEntry",
    "RevisionConflict",
    "ShipmentRejected",
    "SimulatorState",
]

_T = TypeVar("_T")
# Resources with a per-second cap of their own, besides the per-client-id minute limit.
_SHIPMENTS_PATH = re.compile(r"^/order/checkout-forms/[^/]+/shipments/?$")
_CARRIERS_PATH = "/order/carriers"


class RequestLogEntry(NamedTuple):
    monotonic: float
    wall: float
    method: str
    path: str
    query: str  # token-bearing parameters are redacted
    status: int
    client_id: str | None


class SimulatorState:
    def __init__(self, cfg: SimulatorConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = cfg = cfg or SimulatorConfig()
        # A served simulator's clock can be moved forward (`advance_clock`); tests pass a
        # ManualClock, which moves only when told to.
        self.clock: Clock = clock or ShiftedClock(SystemClock())
        self.faults = FaultPlan()
        self._lock = threading.RLock()
        self._orders = OrderBook(cfg.seed, cfg.seller_id, cfg.event_retention_days, self.clock)
        self._fault_rng = random.Random(cfg.seed + 1)  # faults must not shift the order data
        self._limiter = SlidingWindowLimiter(cfg.rate_limit_per_minute, cfg.block_seconds)
        self._per_second = {
            "shipments": PerSecondLimiter(cfg.shipments_per_second),
            "carriers": PerSecondLimiter(cfg.carriers_per_second),
        }
        self._shipments = ShipmentBook(cfg.seed, cfg.waybill_order_limit)
        self._log: deque[RequestLogEntry] = deque(maxlen=cfg.request_log_limit)
        self._offers = OfferDesk(cfg, self.clock)
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
        self.initial_refresh_token: str = self._auth.new_session(
            self.clock.wall(), cfg.initial_refresh_token
        )

    # ----------------------------------------------------------------- buyer, Allegro, seller

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
        one_fulfillment: bool | None = False,
    ) -> str:
        """A new purchase (status BOUGHT); returns the checkout form id and emits BOUGHT.

        None means "pick at random". `line_items` is a count or explicit `LineItemSpec`s.
        `payment` is ONLINE, CASH_ON_DELIVERY or EXTENDED_TERM (paid later: see
        `settle_extended_term`); None picks one of the first two.
        `emit=False` holds BOUGHT back, so a script can deliver it late with
        `duplicate_event(id, "BOUGHT", revision=...)` (out-of-order journals happen).
        `one_fulfillment=True` makes an Allegro One Fulfillment order
        (`fulfillment.provider.id` ALLEGRO); None picks it for a small share of orders.
        """
        with self._lock:
            return self._orders.place(
                marketplace,
                payment,
                guest,
                invoice,
                pickup_point,
                line_items,
                emit,
                one_fulfillment,
            )

    def fill_in(self, order_id: str) -> None:
        """Delivery and payment form filled, payment not finished: FILLED_IN."""
        with self._lock:
            self._orders.fill_in(order_id)

    def pay(self, order_id: str) -> None:
        """Paid (or COD confirmed): READY_FOR_PROCESSING, the usual import trigger."""
        with self._lock:
            self._orders.pay(order_id)

    def buyer_cancel(self, order_id: str) -> None:
        with self._lock:
            self._orders.buyer_cancel(order_id)

    def auto_cancel(self, order_id: str) -> None:
        """Allegro cancels a prepaid order that was not paid in time."""
        with self._lock:
            self._orders.auto_cancel(order_id)

    def add_surcharge(self, order_id: str, amount: str | None = None) -> str:
        """A buyer top-up ("dopłata"): surcharges[] and the total grow; RFP is emitted again.

        payment.paidAmount keeps the first payment: the surcharge is a payment of its own.
        Returns the surcharge's payment id.
        """
        with self._lock:
            return self._orders.add_surcharge(order_id, amount)

    def settle_extended_term(self, order_id: str) -> None:
        """The money of an EXTENDED_TERM payment arrives: finishedAt and paidAmount are set
        and READY_FOR_PROCESSING is emitted a second time."""
        with self._lock:
            self._orders.settle_extended_term(order_id)

    def buyer_change(self, order_id: str, change: str = "address") -> None:
        """The buyer edits a READY_FOR_PROCESSING order: `address`, `pickup_point`,
        `invoice`, `phone`, or `resave` (same data saved again). Emits BUYER_MODIFIED; the
        revision and updatedAt change; address and phone changes set
        `delivery.address.modifiedAt`."""
        with self._lock:
            self._orders.buyer_change(order_id, change)

    def send_line_items(self, order_id: str, count: int | None = None) -> None:
        """Tracking numbers for `count` line items (None: all): lineItemsSent becomes
        SOME or ALL, the revision changes, updatedAt stays, no event."""
        with self._lock:
            self._orders.send_line_items(order_id, count)

    def merge(self, order_ids: Sequence[str]) -> str:
        """The buyer pays several purchases together: a new form, the old ids vanish (404)."""
        with self._lock:
            return self._orders.merge(order_ids)

    def set_fulfillment(
        self, order_id: str, status: str, *, expected_revision: str | None = None
    ) -> None:
        """The seller's label: revision changes, updatedAt does not. Same status: no-op."""
        with self._lock:
            self._orders.set_fulfillment(order_id, status, expected_revision)

    def add_shipment(
        self,
        order_id: str,
        carrier_id: str,
        waybill: str,
        carrier_name: str | None = None,
        line_item_ids: Sequence[str] | None = None,
    ) -> Json:
        """A tracking number the seller adds in Sales Center (or the carrier does): the same
        rules and effects as `POST .../shipments`, but not counted as a POST. Raises
        `ShipmentRejected` with Allegro's status and body when Allegro would refuse it."""
        body: Json = {"carrierId": carrier_id, "waybill": waybill, "carrierName": carrier_name}
        if line_item_ids is not None:
            body["lineItems"] = [{"id": i} for i in line_item_ids]
        return self.add_shipment_body(order_id, body)

    def add_shipment_body(self, order_id: str, body: object) -> Json:
        """`add_shipment` with Allegro's request body (`carrierId`, `waybill`, ...)."""
        request = parse_request(body)
        with self._lock:
            return _fresh(self._add_shipment(order_id, request))

    def post_shipment(self, order_id: str, body: object) -> Json:
        """`POST /order/checkout-forms/{id}/shipments` as the HTTP layer sees it: counted per
        order whatever the outcome, then validated (400), looked up (404), created."""
        with self._lock:
            self._shipments.count_post(order_id)
            request = parse_request(body)
            return _fresh(self._add_shipment(order_id, request))

    def _add_shipment(self, order_id: str, request: ShipmentRequest) -> Json:
        form = self._orders.form(order_id)
        items = [item["id"] for item in form["lineItems"]]
        created_at = iso_millis(to_micros(self.clock.wall()))
        shipment = self._shipments.add(order_id, request, items, created_at)
        current = form["fulfillment"]["shipmentSummary"]["lineItemsSent"]
        covered = self._shipments.covered(order_id, items)
        # fulfillment.status stays: Allegro's auto-SENT setting is off for this seller.
        self._orders.set_line_items_sent(order_id, line_items_sent(current, covered, len(items)))
        return shipment

    def shipments(self, order_id: str) -> list[Json]:
        """What `GET .../shipments` lists, oldest first; OrderNotFound for an unknown order."""
        with self._lock:
            self._orders.form(order_id)
            return _fresh(self._shipments.of(order_id))

    def shipment_posts(self, order_id: str) -> int:
        """How many `POST .../shipments` reached the resource for this order (any outcome;
        requests the edge turned away with a 429 or an injected fault are not counted)."""
        with self._lock:
            return self._shipments.posts(order_id)

    def shipment_post_counts(self) -> dict[str, int]:
        with self._lock:
            return self._shipments.all_posts()

    def returned(self, order_id: str) -> None:
        """Allegro marks the order RETURNED after a full refund (sellers cannot set it)."""
        with self._lock:
            self._orders.returned(order_id)

    def duplicate_event(
        self, order_id: str, event_type: str, *, revision: str | None = None
    ) -> str:
        """Re-emit an event with the current snapshot: the journal does deliver duplicates.

        `revision` makes it a late event that still carries the revision it was born with.
        Returns the new event id.
        """
        with self._lock:
            return self._orders.duplicate_event(order_id, event_type, revision)

    def script_mixed_lifecycles(
        self, n: int, seed: int = 0, *, post_import: bool = False
    ) -> list[str]:
        """n orders through mixed, interleaved lifecycles; returns their final ids.

        `post_import=True` adds what happens after an order is paid (address changes,
        One Fulfillment, extended terms, partial shipments); without it a seed gives the
        same orders it always gave.
        """
        from sandbox.allegro.lifecycles import run_script  # lifecycles drive this class

        return run_script(self, n, seed, post_import=post_import)

    # ----------------------------------------------------------------- offers

    def add_offers(self, specs: Sequence[OfferSpec], *, emit: bool = False) -> list[str]:
        """Offers the seller has listed; `emit=True` announces the active ones with
        OFFER_ACTIVATED (default: they were listed before anyone watched)."""
        with self._lock:
            self._settle()
            return self._offers.add(specs, emit=emit)

    def seed_offers(
        self, count: int, skus: int, marketplaces: Sequence[str] = (), seed: int = 0
    ) -> list[str]:
        """`count` active offers over `skus` SKUs (several offers share a SKU once count >
        skus), priced on allegro-pl and on each of `marketplaces` (e.g. allegro-cz)."""
        with self._lock:
            self._settle()
            return self._offers.seed(count, skus, marketplaces, seed)

    def offer(self, offer_id: str) -> Json:
        """The offer as `GET /sale/product-offers/{id}` shows it; OfferNotFound if unknown
        (`stock.sold` is only in `listed_offer`, as on Allegro)."""
        with self._lock:
            self._settle()
            return self._offers.offer(offer_id)

    def listed_offer(self, offer_id: str) -> Json:
        """The offer as `GET /sale/offers` lists it."""
        with self._lock:
            self._settle()
            offers, _ = self._offers.search(OfferQuery(offer_ids=frozenset({offer_id}), limit=1))
        if not offers:
            raise OfferNotFound(offer_id)
        return offers[0]

    def offer_ids(self) -> list[str]:
        with self._lock:
            return self._offers.book.ids()

    def change_offer(
        self,
        offer_id: str,
        *,
        stock: int | None = None,
        price: str | None = None,
        marketplace: str | None = None,
        action: str | None = None,
        ended_by: str = "USER",
    ) -> None:
        """A change in Sales Center (or by Allegro): stock, a price on a marketplace (base
        by default), END (endedBy `ended_by`) or ACTIVATE. Emits the events Allegro would;
        stock 0 on an active offer ends it (EMPTY_STOCK). OfferRejected when the offer's
        state refuses it (ValueError for a bad value)."""
        with self._lock:
            self._settle()
            self._offers.change(
                offer_id,
                stock=stock,
                price=price,
                marketplace=marketplace,
                action=action,
                ended_by=ended_by,
            )

    def sell_offer(self, offer_id: str, quantity: int = 1) -> None:
        """A buyer takes `quantity` items: stock goes down, sold up; 0 ends the offer
        (EMPTY_STOCK). OfferRejected if the offer is not active or has too few."""
        with self._lock:
            self._settle()
            self._offers.sell(offer_id, quantity)

    def offer_journal(self) -> list[Json]:
        """Every retained offer event, oldest first (duplicates included)."""
        with self._lock:
            self._settle()
            return _fresh(self._offers.retained_events())

    def duplicate_offer_event(self, event_id: str) -> None:
        """Deliver a retained offer event once more, same id (KeyError if not retained)."""
        with self._lock:
            self._settle()
            self._offers.duplicate_event(event_id)

    def offer_command_puts(self) -> list[Json]:
        """Every `PUT` that reached a command resource: commandId, kind, digest (SHA-256
        of the body's canonical JSON), offers, status, at; oldest first."""
        with self._lock:
            return self._offers.puts()

    def offer_command_report(self, kind: str, command_id: str) -> Json:
        """GeneralReport of a command (`quantity`, `price`, `publication`)."""
        with self._lock:
            self._settle()
            return self._offers.command(kind, command_id).report()

    def offer_command_tasks(
        self, kind: str, command_id: str, offset: int = 0, limit: int = 1000
    ) -> list[Json]:
        with self._lock:
            self._settle()
            return self._offers.command(kind, command_id).task_page(offset, limit)

    def put_offer_command(self, kind: str, command_id: str, raw: bytes) -> tuple[int, Json]:
        """The command `PUT` as the HTTP layer sees it (status and body)."""
        with self._lock:
            self._settle()
            return self._offers.put_command(kind, command_id, raw)

    def patch_offer(self, offer_id: str, raw: bytes) -> Json:
        """`PATCH /sale/product-offers/{id}` as the HTTP layer sees it: the offer after the
        change; OfferNotFound, or CommandRejected with Allegro's status and body."""
        with self._lock:
            self._settle()
            return self._offers.patch(offer_id, raw)

    def search_offers(self, query: OfferQuery) -> tuple[list[Json], int]:
        with self._lock:
            self._settle()
            return self._offers.search(query)

    def offer_events(
        self, after: str | None, types: frozenset[str] | None, limit: int
    ) -> list[Json]:
        """A page of `GET /sale/offer-events`; BadEventId for a `from` never issued."""
        with self._lock:
            self._settle()
            return self._offers.events(after, types, limit)

    def settle_offers(self) -> None:
        """Run the batch command tasks that are due (every offer method does it first)."""
        with self._lock:
            self._settle()

    def _settle(self) -> None:
        plan = self.faults
        policy = failure_policy(
            self.config.seed, plan.offer_task_failure_rate, plan.failing_offer_ids
        )
        self._offers.settle(policy)

    def advance_clock(self, seconds: float) -> float:
        """Move the simulated clock forward (a ManualClock, or a served simulator's); the
        commands that fall due run. Returns the new wall time."""
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise ValueError("this simulator's clock cannot be moved")
        with self._lock:
            advance(seconds)
            self._settle()
            return self.clock.wall()

    # ----------------------------------------------------------------- inspection

    def ever_reached(self, order_id: str, status: str) -> bool:
        with self._lock:
            return self._orders.ever_reached(order_id, status)

    def checkout_form(self, order_id: str) -> Json:
        """A private copy with plain lists, exactly what GET would return."""
        with self._lock:
            form = self._orders.form(order_id)
        return _fresh(form)

    def revision_of(self, order_id: str) -> str:
        with self._lock:
            return str(self._orders.form(order_id)["revision"])

    def order_ids(self) -> list[str]:
        with self._lock:
            return self._orders.order_ids()

    @property
    def merged_into(self) -> dict[str, str]:
        """Old checkout form id -> the id of the form it was merged into."""
        with self._lock:
            return dict(self._orders.merged_into)

    def journal(self) -> list[Json]:
        with self._lock:
            rendered = self._orders.retained_events()
        return _fresh(rendered)

    def drop_journal_events(self, ids: Iterable[str]) -> None:
        with self._lock:
            self._orders.drop_events(ids)

    def expire_journal_before(self, event_id: str) -> None:
        with self._lock:
            self._orders.expire_events_before(event_id)

    @property
    def request_log(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._log)

    def clear_request_log(self) -> None:
        with self._lock:
            self._log.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            latest = self._orders.latest_event()
            return {
                "orders": len(self._orders),
                "offers": len(self._offers.book),
                "offerEvents": len(self._offers.journal),
                "events": self._orders.event_count,
                "latestEventId": str(latest.id) if latest else None,
                "requests": len(self._log),
                "blockedClients": self._limiter.blocked_clients(self.clock.monotonic()),
            }

    # ----------------------------------------------------------------- tokens

    def revoke_tokens(self) -> None:
        with self._lock:
            self._auth.revoke_all()

    def issue_refresh_token(self, scopes: Iterable[str] | None = None) -> str:
        """A fresh authorisation, as if the seller had logged in again; `scopes` narrows it
        (None: every scope the application declares)."""
        with self._lock:
            return self._auth.new_session(self.clock.wall(), scopes=scopes)

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

    # ----------------------------------------------------------------- HTTP-facing

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

    def admit_resource(self, client_id: str | None, path: str) -> bool:
        """The per-second cap of a resource that has one (shipments, carriers), asked after
        `gate` let the request through: False means 429, without blocking the client.
        The per-minute limit has already counted the request either way."""
        bucket = _bucket(path)
        if client_id is None or bucket is None:
            return True
        with self._lock:
            return self._per_second[bucket].admit(client_id, self.clock.monotonic())

    def lose_write(self) -> str | None:
        """Asked after a write succeeded: how its answer is lost (see `FaultPlan`), or None."""
        with self._lock:
            return decide_lost_write(self.faults, self._fault_rng)

    def record(self, method: str, path: str, query: str, status: int, client: str | None) -> None:
        with self._lock:
            entry = RequestLogEntry(
                self.clock.monotonic(), self.clock.wall(), method, path, query, status, client
            )
            self._log.append(entry)

    def events_page(self, after: int | None, types: set[str] | None, limit: int) -> list[Json]:
        with self._lock:
            return self._orders.events(after, types, limit)

    def latest_event(self) -> Json | None:
        with self._lock:
            latest = self._orders.latest_event()
        if latest is None:
            return None
        return {"id": str(latest.id), "occurredAt": iso_millis(latest.id)}

    def find_form(self, order_id: str) -> Json | None:
        with self._lock:
            return self._orders.find(order_id)

    def list_forms(self, query: ListQuery) -> tuple[list[Json], int]:
        with self._lock:
            return self._orders.list_forms(query)


def _bucket(path: str) -> str | None:
    if path == _CARRIERS_PATH:
        return "carriers"
    return "shipments" if _SHIPMENTS_PATH.match(path) else None


def _fresh(value: _T) -> _T:
    """A deep copy via JSON: shared sub-objects and tuples become private dicts and lists."""
    copied: _T = json.loads(json.dumps(value))
    return copied
