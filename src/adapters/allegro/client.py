"""The composition of one Allegro client: transport stack, token manager, ports."""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from types import TracebackType

import httpx

from adapters.allegro.api import AllegroApi
from adapters.allegro.auth import TokenManager, build_oauth_client
from adapters.allegro.budget_share import BudgetShares
from adapters.allegro.config import DEFAULT_MAX_BODY_BYTES, AllegroClientConfig
from adapters.allegro.headers import API_HEADERS
from adapters.allegro.httpx_checkout_form_reader import HttpxCheckoutFormReader
from adapters.allegro.httpx_offer_catalog import HttpxOfferCatalog
from adapters.allegro.httpx_offer_event_journal import HttpxOfferEventJournal
from adapters.allegro.httpx_offer_writer import HttpxOfferWriter
from adapters.allegro.httpx_order_event_journal import HttpxOrderEventJournal
from adapters.allegro.httpx_order_writer import HttpxOrderWriter, resource_limiter
from adapters.allegro.observer import NullObserver, RequestObserver
from adapters.allegro.offer_change_limit import OfferChangeLimiters, offer_change_limiters
from adapters.allegro.rate_limit import TokenBucket
from adapters.allegro.retry import BackoffPolicy
from adapters.allegro.timing import Jitter, Monotonic, Sleep, Timing
from adapters.allegro.transport import ClientTransport, ResilientTransport
from application.ports.clock import Clock
from application.ports.state import TokenStore


class AllegroClient:
    """Owns the REST client, the token manager (with authlib's client) and the bucket.
    Every port goes through the same API client, so reads and writes share one budget;
    `timing` paces the write resources' own per-second caps.

    Two request classes split that budget (budget_share.py): the import (`journal`, `forms`,
    `offer_journal`, `offer_catalog`) and the commands (`command_forms`, `orders`,
    `command_offer_catalog`, `offer_writer`), each through a view of the API that counts its
    requests against the class's limiter. Without `shares` the views are not limited. As
    with `command_forms`, what the command path reads (the offers of its SKUs) counts as
    commands, and the same listing read for the offer events' sweep as import."""

    journal: HttpxOrderEventJournal
    forms: HttpxCheckoutFormReader
    command_forms: HttpxCheckoutFormReader
    orders: HttpxOrderWriter
    offer_journal: HttpxOfferEventJournal
    offer_catalog: HttpxOfferCatalog
    command_offer_catalog: HttpxOfferCatalog
    offer_writer: HttpxOfferWriter

    def __init__(
        self,
        *,
        api_client: httpx.AsyncClient,
        tokens: TokenManager,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        timing: Timing | None = None,
        shares: BudgetShares | None = None,
        offer_limiters: OfferChangeLimiters | None = None,
    ) -> None:
        """`offer_limiters`: Allegro's per-user limits on offer changes, shared across the
        process's clients (else this client's own)."""
        api = AllegroApi(api_client, tokens, max_body_bytes)
        imports = api.for_class(shares.imports) if shares is not None else api
        commands = api.for_class(shares.commands) if shares is not None else api
        timing = timing or Timing()
        self.journal = HttpxOrderEventJournal(imports)
        self.forms = HttpxCheckoutFormReader(imports)
        self.command_forms = HttpxCheckoutFormReader(commands)
        self.orders = HttpxOrderWriter(
            commands,
            shipments_limiter=resource_limiter(timing),
            carriers_limiter=resource_limiter(timing),
        )
        self.offer_journal = HttpxOfferEventJournal(imports)
        self.offer_catalog = HttpxOfferCatalog(imports)
        self.command_offer_catalog = HttpxOfferCatalog(commands)
        self.offer_writer = HttpxOfferWriter(
            commands, limiters=offer_limiters or offer_change_limiters(timing)
        )
        self._api_client = api_client
        self._tokens = tokens

    async def token_expires_at(self) -> datetime | None:
        """When the stored access token expires; None when no tokens are stored."""
        return await self._tokens.expires_at()

    async def aclose(self) -> None:
        try:
            await self._api_client.aclose()
        finally:
            await self._tokens.aclose()

    async def __aenter__(self) -> AllegroClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def build_allegro_client(
    config: AllegroClientConfig,
    token_store: TokenStore,
    *,
    observer: RequestObserver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    monotonic: Monotonic | None = None,
    sleep: Sleep | None = None,
    jitter: Jitter | None = None,
    offer_limiters: OfferChangeLimiters | None = None,
) -> AllegroClient:
    """`transport` replaces the network (tests); the caller keeps ownership of it."""
    timing = make_timing(clock, monotonic, sleep, jitter)
    _, resilient = transport_stack(
        config, observer=observer or NullObserver(), transport=transport, timing=timing
    )
    api_client = httpx.AsyncClient(
        base_url=config.api_url,
        headers=API_HEADERS,
        timeout=config.timeout_seconds,
        transport=resilient(),
        trust_env=False,  # the transport below applies the environment's proxy settings
    )
    tokens = TokenManager(
        build_oauth_client(config, resilient()),
        token_url=config.token_url,
        store=token_store,
        account=config.account,
        initial_refresh_token=config.initial_refresh_token,
        clock=timing.clock,
        sleep=timing.sleep,
    )
    return AllegroClient(
        api_client=api_client,
        tokens=tokens,
        max_body_bytes=config.max_body_bytes,
        timing=timing,
        shares=BudgetShares.build(
            config.rate_limit_per_minute,
            config.import_min_share,
            config.commands_min_share,
            timing,
        ),
        offer_limiters=offer_limiters,
    )


async def allegro_client_resource(
    config: AllegroClientConfig,
    token_store: TokenStore,
    observer: RequestObserver | None = None,
    offer_limiters: OfferChangeLimiters | None = None,
) -> AsyncIterator[AllegroClient]:
    """Async generator for dependency-injector's `providers.Resource`: closes on shutdown."""
    client = build_allegro_client(
        config, token_store, observer=observer, offer_limiters=offer_limiters
    )
    try:
        yield client
    finally:
        await client.aclose()


def network_transport(config: AllegroClientConfig) -> httpx.AsyncBaseTransport:
    """The real network, with proxies and CA settings from the environment.

    httpx's own transport reads the CA settings (`SSL_CERT_FILE`, `SSL_CERT_DIR`) itself.
    Proxies (`HTTPS_PROXY`, `ALL_PROXY`, ... and `NO_PROXY`) are applied by an httpx client,
    so only when the environment names one do requests go through that extra layer: it
    costs about a tenth of the client's CPU per request.
    """
    if environment_proxies():
        return ClientTransport(
            httpx.AsyncClient(
                timeout=config.timeout_seconds, follow_redirects=False, trust_env=True
            )
        )
    return httpx.AsyncHTTPTransport(trust_env=True)


def environment_proxies() -> dict[str, str]:
    """The HTTP proxies the environment names (as httpx reads them: http, https, all)."""
    found = urllib.request.getproxies()
    return {scheme: found[scheme] for scheme in ("http", "https", "all") if found.get(scheme)}


def transport_stack(
    config: AllegroClientConfig,
    *,
    observer: RequestObserver,
    transport: httpx.AsyncBaseTransport | None,
    timing: Timing,
) -> tuple[TokenBucket, Callable[[], ResilientTransport]]:
    """One bucket, and a factory of transports that all draw from it."""
    bucket = TokenBucket(
        config.rate_limit_per_minute,
        config.rate_limit_burst,
        monotonic=timing.monotonic,
        sleep=timing.sleep,
        observer=observer,
    )
    backoff = BackoffPolicy(
        config.max_attempts, config.backoff_initial, config.backoff_max, timing.jitter
    )

    def resilient() -> ResilientTransport:
        return ResilientTransport(
            transport or network_transport(config),
            bucket=bucket,
            backoff=backoff,
            block_seconds=config.rate_limit_block_seconds,
            retry_after_max=config.retry_after_max_seconds,
            observer=observer,
            timing=timing,
            owns_inner=transport is None,
        )

    return bucket, resilient


def make_timing(
    clock: Clock | None,
    monotonic: Monotonic | None,
    sleep: Sleep | None,
    jitter: Jitter | None,
) -> Timing:
    default = Timing()
    return Timing(
        clock=clock or default.clock,
        monotonic=monotonic or default.monotonic,
        sleep=sleep or default.sleep,
        jitter=jitter or default.jitter,
    )
