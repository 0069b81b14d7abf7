"""The offer paths' series (docs/metrics.md), read at scrape time from the statuses the two
paths keep (`OfferSyncStatus`, `OfferEventsStatus`): like the command path, they need no
observer of their own. Labels are bounded: the one account and the results."""

from __future__ import annotations

from collections.abc import Callable

from application.offer_events import OfferEventsStatus
from application.offer_sync import OfferSyncStatus
from entrypoints.metrics import Labels, Metrics

OFFER_COMMANDS = "openoms_allegro_offer_commands_total"
OFFER_COMMAND_DEAD_LETTERS = "openoms_allegro_offer_command_dead_letters_total"
OFFER_BATCH_COMMANDS = "openoms_allegro_offer_batch_commands_total"
OFFERS_WRITTEN = "openoms_allegro_offers_written_total"
OFFER_PENDING = "openoms_allegro_offer_changes_pending"
OFFER_COMMAND_LAG = "openoms_allegro_offer_command_lag_records"
OFFER_SYNC_FAILURES = "openoms_allegro_offer_sync_consecutive_failures"
OFFER_EVENTS_READ = "openoms_allegro_offer_events_read_total"
OFFERS_READ = "openoms_allegro_offers_read_total"
OFFERS_PUBLISHED = "openoms_allegro_offers_published_total"
OFFER_DEAD_LETTERS = "openoms_allegro_offer_dead_letters_total"
OFFER_SWEEPS = "openoms_allegro_offer_sweeps_total"
OFFER_EVENTS_FAILURES = "openoms_allegro_offer_events_consecutive_failures"
OFFER_EVENTS_LAST_POLL = "openoms_allegro_offer_events_last_poll_timestamp_seconds"
OFFER_RESULTS = ("succeeded", "rejected", "invalid")


def register_offer_metrics(
    metrics: Metrics,
    sync: OfferSyncStatus,
    events: OfferEventsStatus,
    account: str,
    running: Callable[[], bool],
) -> None:
    """`running`: whether this replica runs the offer paths now (the poller); a standby's
    gauges would be left from its last term, so they are left out."""

    def one(value: float, **extra: str) -> list[tuple[Labels, float]]:
        return [((("account", account), *extra.items()), value)]

    def while_running(read: Callable[[], float | None]) -> Callable[[], list[tuple[Labels, float]]]:
        def reading() -> list[tuple[Labels, float]]:
            value = read() if running() else None
            return [] if value is None else one(value)

        return reading

    def results() -> list[tuple[Labels, float]]:
        counts = {**sync.failed_by_reason, "succeeded": sync.succeeded}
        return [
            sample
            for result in OFFER_RESULTS
            for sample in one(float(counts.get(result, 0)), result=result)
        ]

    def last_poll() -> float | None:
        return None if events.last_poll_at is None else events.last_poll_at.timestamp()

    metrics.counter(
        OFFER_COMMANDS,
        "SetStock/SetPrice commands answered with a result, by result (succeeded, rejected, "
        "invalid)",
        results,
    )
    metrics.counter(
        OFFER_COMMAND_DEAD_LETTERS,
        "Records of the offer command topic that were not commands, sent to the dead-letter topic",
        lambda: one(float(sync.rejected_records)),
    )
    metrics.counter(
        OFFER_BATCH_COMMANDS,
        "Allegro batch commands (quantity, price, publication) accepted",
        lambda: one(float(sync.batch_commands_sent)),
    )
    metrics.counter(
        OFFERS_WRITTEN,
        "Offer changes in the batch commands Allegro accepted",
        lambda: one(float(sync.offers_written)),
    )
    metrics.gauge(
        OFFER_PENDING,
        "Offer changes of a round planned and not done yet",
        while_running(lambda: float(sync.pending_offers)),
    )
    metrics.gauge(
        OFFER_COMMAND_LAG,
        "Offer commands on the topic not yet delivered to this replica (the consumer's lag)",
        while_running(lambda: None if sync.lag is None else float(sync.lag)),
    )
    metrics.gauge(
        OFFER_SYNC_FAILURES,
        "Rounds of the inventory path that failed in a row (0: none)",
        while_running(lambda: float(sync.consecutive_failures)),
    )
    metrics.counter(
        OFFER_EVENTS_READ,
        "Entries of Allegro's offer event journal read",
        lambda: one(float(events.events_read)),
    )
    metrics.counter(
        OFFERS_READ, "Offers re-read from Allegro", lambda: one(float(events.offers_read))
    )
    metrics.counter(
        OFFERS_PUBLISHED,
        "OfferChanged events published (committed)",
        lambda: one(float(events.offers_published)),
    )
    metrics.counter(
        OFFER_DEAD_LETTERS,
        "Offer events and offers that could not be read, sent to the dead-letter topic",
        lambda: one(float(events.dead_letters)),
    )
    metrics.counter(
        OFFER_SWEEPS,
        "Sweeps of every offer after a cursor older than the journal's retention",
        lambda: one(float(events.sweeps)),
    )
    metrics.gauge(
        OFFER_EVENTS_FAILURES,
        "Polls of the offer event journal that failed in a row (0: none)",
        while_running(lambda: float(events.consecutive_failures)),
    )
    metrics.gauge(
        OFFER_EVENTS_LAST_POLL,
        "When the offer event journal was last read (Unix time)",
        while_running(last_poll),
    )
