"""Offer events out: Allegro's offer event journal becomes `OfferChanged` on the offers
topic (docs/offers.md).

One poll (`OfferEvents.step`):

1. a batch that a crash left staged is re-sent byte for byte and committed first: its
   decisions were made once, and deciding again from offers that moved since could differ;
2. a cursor last read more than `stale_after` (23 h) ago may have missed events (Allegro keeps
   them 24 h): a sweep of the offer listing publishes every offer whose listed values differ
   from what was last published (or that was never published), then the cursor restarts at
   the oldest retained event;
3. else one page of the journal after the cursor: each offer it names is read once (events
   carry no values; reads run `concurrency` at a time), decided against what was last
   published (`decide_offer`: several events for one change, and duplicated events, publish
   once), encoded, and staged -> sent -> committed with the cursor moved past the page.

An entry that names no offer, and an offer that cannot be read (its body, or a refusal other
than 404), go to the dead-letter topic with what came and why, and the cursor moves past them:
reading them again cannot help. A 404 (the offer is gone) publishes nothing. An outage (a
`PortError` from the journal, the store or the sender) commits nothing: the cursor holds and
the next poll comes after a backoff.

Wiring (the integrator's): `OfferEvents(journal, catalog, store, encoder, sender, account,
clock, OfferEventSettings(poll_seconds=..., page_size=..., concurrency=...))`, then
`await offer_events.run(stop)` in a task of its own; `status` is what metrics and `status`
read.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from application.outbox import uninterrupted
from application.poll_loop import Backoff
from application.ports.clock import Clock
from application.ports.errors import AllegroRejected, PortError
from application.ports.offers import (
    ListedOffer,
    OfferCatalog,
    OfferCursor,
    OfferEncoder,
    OfferEvent,
    OfferEventJournal,
    OfferNotFound,
    OfferStore,
    StagedOffers,
    UnreadableOffer,
    UnreadableOfferEvent,
)
from application.ports.publisher import DeadLetter, MessageSender
from application.stopping import unless_stopped
from domain.offers import (
    OfferChanged,
    OfferRecord,
    OfferSnapshot,
    decide_offer,
    is_offer_id,
    offer_values,
)

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 1000  # Allegro's limit for both `GET /sale/offer-events` and `GET /sale/offers`
MAX_LISTING_END = 10_000_000  # Allegro's bound on offset + limit of `GET /sale/offers`
SWEEP_TRIGGER = "sweep"
# A dead letter's key carries the entry's id only when it is a plain token (Allegro's are
# digits); anything else is not ours to put in a key.
_EVENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_DESCRIBED = 2048  # characters of an event described for a dead letter

# What one offer read gave: the offer, its unreadable body, or None (404: gone).
Read = OfferSnapshot | UnreadableOffer | None


@dataclass(frozen=True, slots=True)
class OfferEventSettings:
    poll_seconds: float = 10.0  # the wait between polls of a journal with nothing more waiting
    page_size: int = MAX_PAGE_SIZE  # journal entries per poll, and offers per listing page
    concurrency: int = 8  # offer reads under way at once
    stale_after: timedelta = timedelta(hours=23)  # the journal keeps 24 h: an hour's margin

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        if not 1 <= self.concurrency <= 64:
            raise ValueError("concurrency must be 1..64")
        if self.poll_seconds <= 0 or self.stale_after <= timedelta(0):
            raise ValueError("poll_seconds and stale_after must be positive")


@dataclass(slots=True)
class OfferEventsStatus:
    """What operators see of the offer events path (metrics, `status`)."""

    polls: int = 0  # journal pages read
    events_read: int = 0  # journal entries read, readable or not
    offers_read: int = 0  # offer reads (journal pages and sweeps)
    offers_published: int = 0  # OfferChanged committed
    dead_letters: int = 0  # dead letters committed
    resent: int = 0  # staged batches re-sent after an interruption
    sweeps: int = 0  # stale cursors repaired
    last_poll_at: datetime | None = None
    cursor: str | None = None  # the committed position (None: the oldest retained)
    cursor_read_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None


@dataclass(slots=True)
class _Batch:
    """What one page (of the journal or of a sweep) decided."""

    events: list[OfferChanged] = field(default_factory=list)
    records: list[OfferRecord] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


class OfferEvents:
    def __init__(
        self,
        journal: OfferEventJournal,
        catalog: OfferCatalog,
        store: OfferStore,
        encoder: OfferEncoder,
        sender: MessageSender,
        account: str,
        clock: Clock,
        settings: OfferEventSettings | None = None,
        backoff: Backoff | None = None,
        status: OfferEventsStatus | None = None,
    ) -> None:
        self._journal = journal
        self._catalog = catalog
        self._store = store
        self._encoder = encoder
        self._sender = sender
        self.account = account
        self._clock = clock
        self._settings = settings or OfferEventSettings()
        self._backoff = backoff or Backoff()
        self.status = status or OfferEventsStatus()

    async def run(self, stop: asyncio.Event, interval: float | None = None) -> None:
        """Polls until `stop`: back to back while more is waiting, `interval` (default
        `poll_seconds`) apart otherwise, after a backoff when a poll failed. A stop abandons
        the reading in flight; only a send + commit already under way completes."""
        idle = self._settings.poll_seconds if interval is None else interval
        while not stop.is_set():
            more = await unless_stopped(self.step(), stop)
            if more is None:
                return
            if self.status.consecutive_failures:
                delay = self._backoff.delay(self.status.consecutive_failures)
            else:
                delay = 0.0 if more else idle
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)

    async def step(self) -> bool:
        """One poll; True when more is waiting (a full page, or a sweep just done). Never
        raises for an outage: it is counted in `status` and nothing is committed."""
        try:
            more = await self._poll()
        except PortError as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return False
        except Exception as exc:  # a bug or data nobody foresaw: held and retried, not a crash
            log.exception("offer events poll failed unexpectedly", extra={"account": self.account})
            self._failed(f"unexpected {type(exc).__name__}")
            return False
        self.status.consecutive_failures = 0
        return more

    async def resend_staged(self) -> StagedOffers | None:
        """The batch staged before an interruption, if any, sent again as it was staged and
        committed."""
        staged = await self._store.load_staged_offers(self.account)
        if staged is None:
            return None
        log.warning(
            "re-sending an offer batch staged before an interruption",
            extra={"account": self.account, "messages": len(staged.messages)},
        )
        await uninterrupted(self._send_and_commit(staged))
        self.status.resent += 1
        return staged

    # --- one poll ------------------------------------------------------------------------

    async def _poll(self) -> bool:
        await self.resend_staged()
        cursor = await self._store.load_offer_cursor(self.account)
        if cursor is not None:
            self.status.cursor, self.status.cursor_read_at = cursor.position, cursor.read_at
        now = self._clock.now()
        if cursor is not None and now - cursor.read_at > self._settings.stale_after:
            await self._sweep(cursor)
            return True
        position = None if cursor is None else cursor.position
        page = await self._journal.events(position, self._settings.page_size)
        entries = len(page.events) + len(page.unreadable)
        self.status.polls += 1
        self.status.events_read += entries
        self.status.last_poll_at = now
        batch = _Batch()
        batch.dead_letters.extend(self._event_letter(entry, now) for entry in page.unreadable)
        triggers = self._triggers(page.events, batch, now)
        reads = await self._read_offers(triggers)
        await self._decide(reads, triggers, batch, now)
        # A page whose last entry has no id cannot move the position; its read time still
        # moves, so a quiet journal is not taken for a stale cursor.
        moved = OfferCursor(page.last_id if page.last_id is not None else position, now)
        await self._deliver(batch, moved)
        # More is waiting after a full page, unless the page did not move the position (a
        # journal that answers the same page again): polled back to back, it would re-read
        # its offers in a loop.
        return entries >= self._settings.page_size and moved.position not in (None, position)

    def _triggers(
        self, events: Sequence[OfferEvent], batch: _Batch, now: datetime
    ) -> dict[str, str]:
        """Offer id -> the last event of the page that names it (oldest first, so the
        newest): one read and at most one `OfferChanged` per offer however many name it."""
        triggers: dict[str, str] = {}
        for event in events:
            if is_offer_id(event.offer_id):
                triggers.pop(event.offer_id, None)  # re-inserted: ordered by the last event
                triggers[event.offer_id] = event.event_id
            else:  # never put in a request's path
                described = _describe(event)
                batch.dead_letters.append(
                    self._event_letter(
                        UnreadableOfferEvent(event.event_id, described, "the offer id is not one"),
                        now,
                    )
                )
        return triggers

    # --- the sweep -----------------------------------------------------------------------

    async def _sweep(self, stale: OfferCursor) -> None:
        """Every page of the listing; then the cursor restarts at the oldest retained event
        (the events still retained then dedupe against the records the sweep wrote). A sweep
        cut by an outage starts over: the pages it committed compare equal and cost a listing
        page each."""
        log.warning(
            "offer cursor is older than the journal keeps events: sweeping the offers",
            extra={"account": self.account, "cursor_read_at": stale.read_at.isoformat()},
        )
        offset = 0
        while offset < MAX_LISTING_END:
            limit = min(self._settings.page_size, MAX_LISTING_END - offset)
            page = await self._catalog.list_page(offset, limit)
            listed = page.offers[:limit]
            if not listed:
                break
            await self._sweep_page(listed)
            offset += len(listed)
            if offset >= page.total:
                break
        restarted = OfferCursor(None, self._clock.now())
        await self._store.commit_offers(self.account, restarted, ())
        self.status.sweeps += 1
        self.status.cursor, self.status.cursor_read_at = None, restarted.read_at

    async def _sweep_page(self, listed: Sequence[ListedOffer]) -> None:
        offers = {o.offer_id: o for o in listed if is_offer_id(o.offer_id)}
        records = await self._store.load_offer_records(self.account, list(offers))
        differ = {
            offer_id: SWEEP_TRIGGER
            for offer_id, offer in offers.items()
            if offer_id not in records or records[offer_id].values != _listed_values(offer)
        }
        now = self._clock.now()
        batch = _Batch()
        reads = await self._read_offers(differ)
        await self._decide(reads, differ, batch, now, records)
        await self._deliver(batch, None)  # a sweep page leaves the cursor where it is

    # --- reading, deciding, delivering --------------------------------------------------

    async def _read_offers(self, offer_ids: Iterable[str]) -> dict[str, Read]:
        """Each offer read once, `concurrency` at a time; an outage cancels the rest and is
        raised."""
        reads = await _bounded(list(offer_ids), self._read_offer, self._settings.concurrency)
        self.status.offers_read += len(reads)
        return reads

    async def _read_offer(self, offer_id: str) -> Read:
        try:
            read = await self._journal.offer(offer_id)
        except OfferNotFound:
            return None  # deleted or archived: nothing to publish
        except AllegroRejected as exc:
            # A refusal of this one offer (400, 403): reading it again gives the same answer,
            # and holding the journal for it would hold every other offer.
            return UnreadableOffer(offer_id, "", f"the offer read was refused: {exc}")
        if isinstance(read, OfferSnapshot) and read.offer_id != offer_id:
            return UnreadableOffer(offer_id, "", f"asked for offer {offer_id}, read another")
        return read

    async def _decide(
        self,
        reads: Mapping[str, Read],
        triggers: Mapping[str, str],
        batch: _Batch,
        now: datetime,
        records: Mapping[str, OfferRecord] | None = None,
    ) -> None:
        snapshots = {i: r for i, r in reads.items() if isinstance(r, OfferSnapshot)}
        if records is None:
            records = await self._store.load_offer_records(self.account, list(snapshots))
        for offer_id, read in reads.items():
            trigger = triggers[offer_id]
            if isinstance(read, UnreadableOffer):
                batch.dead_letters.append(self._offer_letter(read, trigger, now))
            elif read is not None:
                try:
                    event, record = decide_offer(self.account, read, records.get(offer_id), trigger)
                except Exception as exc:  # data nobody foresaw: quarantined, the rest goes on
                    reason = f"unexpected {type(exc).__name__} while deciding"
                    unreadable = UnreadableOffer(offer_id, _describe(read), reason)
                    batch.dead_letters.append(self._offer_letter(unreadable, trigger, now))
                    continue
                if event is not None:
                    batch.events.append(event)
                    batch.records.append(record)

    async def _deliver(self, batch: _Batch, cursor: OfferCursor | None) -> None:
        messages = self._encoder.encode_offers(batch.events, batch.dead_letters)
        staged = StagedOffers(cursor, tuple(batch.records), tuple(messages))
        await uninterrupted(self._stage_send_commit(staged))
        self.status.offers_published += len(batch.events)
        self.status.dead_letters += len(batch.dead_letters)
        if cursor is not None:
            self.status.cursor, self.status.cursor_read_at = cursor.position, cursor.read_at
        if batch.events or batch.dead_letters:
            log.info(
                "offer batch committed",
                extra={
                    "account": self.account,
                    "published": len(batch.events),
                    "dead_lettered": len(batch.dead_letters),
                    "cursor": None if cursor is None else cursor.position,
                },
            )

    async def _stage_send_commit(self, staged: StagedOffers) -> None:
        if staged.messages:
            await self._store.stage_offers(self.account, staged)
        await self._send_and_commit(staged)

    async def _send_and_commit(self, staged: StagedOffers) -> None:
        if staged.messages:
            await self._sender.send(staged.messages)
        await self._store.commit_offers(self.account, staged.cursor, staged.records)

    # --- dead letters and failures -------------------------------------------------------

    def _event_letter(self, entry: UnreadableOfferEvent, now: datetime) -> DeadLetter:
        event_id = entry.event_id
        key = event_id if event_id is not None and _EVENT_ID.fullmatch(event_id) else "unknown"
        return DeadLetter(
            account=self.account,
            checkout_form_id=f"offer-event-{key}",
            allegro_event_id=event_id,
            raw_payload=entry.raw,
            error=f"unreadable offer event: {entry.reason}",
            attempts=1,
            failed_at=now,
        )

    def _offer_letter(self, offer: UnreadableOffer, trigger: str, now: datetime) -> DeadLetter:
        return DeadLetter(
            account=self.account,
            checkout_form_id=f"offer-{offer.offer_id}",
            allegro_event_id=None if trigger == SWEEP_TRIGGER else trigger,
            raw_payload=offer.raw,
            error=f"unreadable offer: {offer.reason}",
            attempts=1,
            failed_at=now,
        )

    def _failed(self, error: str) -> None:
        status = self.status
        status.consecutive_failures += 1
        status.last_error = error
        status.last_error_at = self._clock.now()
        log.warning(
            "offer events poll failed, cursor held",
            extra={
                "account": self.account,
                "error": error,
                "failures": status.consecutive_failures,
            },
        )


def _listed_values(offer: ListedOffer) -> str:
    return offer_values(offer.sku, offer.stock_available, offer.prices, offer.publication_status)


def _describe(item: OfferEvent | OfferSnapshot) -> str:
    """What was read, as JSON, for a dead letter whose wire body is no longer at hand."""
    fields = {f.name: str(getattr(item, f.name)) for f in dataclasses.fields(item)}
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return text[:_DESCRIBED]


async def _bounded(
    keys: Sequence[str], work: Callable[[str], Awaitable[Read]], concurrency: int
) -> dict[str, Read]:
    """`work(key)` for every key, at most `concurrency` under way at once, results in the
    keys' order. The first error cancels what is under way and is raised as it came."""
    results: dict[str, Read] = {}
    waiting = iter(keys)

    async def worker() -> None:
        for key in waiting:  # shared: each key is taken by one worker
            results[key] = await work(key)

    workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(keys)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    return {key: results[key] for key in keys}
