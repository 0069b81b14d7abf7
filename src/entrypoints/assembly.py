"""How one account's use cases are put together from their ports: the one place that builds
them, used by the container (`containers.py`), the tests and `bench/`.

One `OrderImport` per account: its journal path, its sweeps and its reconciler share one
batch pipeline (one outbox, one staged slot), which is also how the journal's read-ahead
learns that a sweep committed beside it (`BatchPipeline.side_commits`). Serving several
accounts is one `OrderImport` each, around HTTP clients that share one rate budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.apply_command import ApplyCommand, Carriers
from application.command_loop import CommandLoop, CommandStatus
from application.form_loader import FormLoader
from application.journal_batches import JournalBatches
from application.offer_events import OfferEvents, OfferEventSettings, OfferEventsStatus
from application.offer_sync import OfferRecordSource, OfferSync, OfferSyncLimits, OfferSyncStatus
from application.outbox import Outbox
from application.pipeline import BatchPipeline
from application.ports.allegro import LIST_PAGE_SIZE, CheckoutFormReader, OrderEventJournal
from application.ports.clock import Clock
from application.ports.commands import CommandSource, ResultEncoder
from application.ports.offers import (
    OfferCatalog,
    OfferEncoder,
    OfferEventJournal,
    OfferStore,
    OfferWriter,
)
from application.ports.order_writes import OrderWriter
from application.ports.publisher import EventPublisher, MessageSender
from application.ports.state import StateStore
from application.reconcile import Reconciler, ReconcileSettings
from application.sku_index import SkuIndex
from application.sweep import SweepCheckoutForms
from application.sync_orders import SyncOrders, SyncSettings
from domain.policy import ImportPolicy


@dataclass(frozen=True, slots=True)
class OrderImport:
    pipeline: BatchPipeline
    sync: SyncOrders
    sweep: SweepCheckoutForms
    reconciler: Reconciler


def order_import(
    journal: OrderEventJournal,
    forms: CheckoutFormReader,
    publisher: EventPublisher,
    state: StateStore,
    policy: ImportPolicy,
    settings: SyncSettings,
    clock: Clock,
    *,
    sender: MessageSender | None = None,
    reconcile: ReconcileSettings | None = None,
    sweep_page_size: int = LIST_PAGE_SIZE,
) -> OrderImport:
    """The account's use cases over these ports. `publisher` encodes, and sends unless
    `sender` is given (tests put a failing or recording sender in front of the broker)."""
    outbox = Outbox(state, sender or publisher, policy.account)
    pipeline = BatchPipeline(
        policy, state, state, publisher, outbox, forms, clock, settings.max_attempts
    )
    loader = FormLoader(
        forms,
        concurrency=settings.read_concurrency,
        bulk=settings.bulk_reads,
        min_orders=settings.bulk_min_orders,
    )
    source = JournalBatches(
        journal,
        loader,
        policy.trigger,
        lambda: pipeline.side_commits,
        batch_size=settings.batch_size,
        pages_per_batch=settings.pages_per_batch,
    )
    sweep = SweepCheckoutForms(forms, pipeline, page_size=sweep_page_size)
    reconciler = Reconciler(
        journal, state, sweep, reconcile or ReconcileSettings(account=policy.account), clock
    )
    return OrderImport(
        pipeline=pipeline,
        sync=SyncOrders(source, pipeline, state, settings, clock),
        sweep=sweep,
        reconciler=reconciler,
    )


def command_loop(
    source: CommandSource,
    forms: CheckoutFormReader,
    writer: OrderWriter,
    sender: MessageSender,
    encoder: ResultEncoder,
    account: str,
    clock: Clock,
    *,
    status: CommandStatus | None = None,
) -> CommandLoop:
    """The account's command path: OpenOMS's commands applied to Allegro, one result each."""
    applying = ApplyCommand(forms, writer, Carriers(writer, clock))
    return CommandLoop(source, applying, encoder, sender, account, status=status)


def offer_sync(
    source: OfferRecordSource,
    catalog: OfferCatalog,
    writer: OfferWriter,
    store: OfferStore,
    sender: MessageSender,
    encoder: ResultEncoder,
    account: str,
    clock: Clock,
    *,
    limits: OfferSyncLimits | None = None,
    status: OfferSyncStatus | None = None,
) -> OfferSync:
    """The account's inventory path: OpenOMS's stock and price commands, in rounds of
    Allegro batch commands, one result each (docs/offers.md)."""
    index = SkuIndex(catalog, clock)
    return OfferSync(
        source, index, writer, store, encoder, sender, account, clock, limits=limits, status=status
    )


def offer_events(
    journal: OfferEventJournal,
    catalog: OfferCatalog,
    store: OfferStore,
    sender: MessageSender,
    encoder: OfferEncoder,
    account: str,
    clock: Clock,
    *,
    settings: OfferEventSettings | None = None,
    status: OfferEventsStatus | None = None,
) -> OfferEvents:
    """The account's offer events path: Allegro's offer changes as `OfferChanged`."""
    return OfferEvents(
        journal, catalog, store, encoder, sender, account, clock, settings, status=status
    )
