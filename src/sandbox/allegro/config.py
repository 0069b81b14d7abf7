"""Knobs of the simulated Allegro account: credentials, limits, lifetimes and faults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    client_id: str = "sim-client"
    client_secret: str = "sim-secret"  # noqa: S105 - the simulator's own, not a real credential
    seed: int = 42
    rate_limit_per_minute: int = 9000
    block_seconds: float = 60.0
    access_token_ttl: int = 43199
    refresh_grace_seconds: float = 60.0
    event_retention_days: int = 60
    refresh_token_ttl: float = 90 * 24 * 3600.0
    device_interval_seconds: int = 5
    device_code_ttl: int = 3600
    seller_id: str = "44294360"
    # A fixed first refresh token (docker-compose); None: a random one.
    initial_refresh_token: str | None = field(default=None, repr=False)
    # The log is for tests and benchmarks; bounded so a soak run cannot eat the memory.
    request_log_limit: int = 200_000
    # `/order/checkout-forms/{id}/shipments` (GET and POST together) and `/order/carriers`
    # each allow 50 requests a second, on top of the per-minute limit (docs/allegro-api.md,
    # Errors and rate limits).
    shipments_per_second: int = 50
    carriers_per_second: int = 50
    # Allegro answers 409 when a waybill is on "too many orders" without saying how many;
    # the simulator's choice (docs/allegro-api.md, Writing back to orders).
    waybill_order_limit: int = 10
    # Offers (docs/allegro-api.md, What the simulator reproduces, Offers). A batch command's
    # tasks run this long after its PUT, on the simulated clock (0: on the next request).
    offer_command_delay_seconds: float = 0.3
    offer_event_retention_hours: float = 24.0
    # Per-user offer changes each command kind allows, per minute and per hour.
    offer_quantity_changes_per_minute: int = 9000
    offer_quantity_changes_per_hour: int = 250_000
    offer_price_changes_per_minute: int = 9000
    offer_price_changes_per_hour: int = 150_000
    offer_publication_changes_per_minute: int = 9000
    offer_publication_changes_per_hour: int = 250_000

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise ValueError("client_id and client_secret must be non-empty")
        if self.rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be at least 1")
        if self.block_seconds < 0 or self.refresh_grace_seconds < 0:
            raise ValueError("block_seconds and refresh_grace_seconds must be >= 0")
        if self.access_token_ttl < 1 or self.event_retention_days < 1:
            raise ValueError("access_token_ttl and event_retention_days must be positive")
        if min(self.shipments_per_second, self.carriers_per_second) < 1:
            raise ValueError("shipments_per_second and carriers_per_second must be at least 1")
        if self.waybill_order_limit < 1:
            raise ValueError("waybill_order_limit must be at least 1")
        if self.offer_command_delay_seconds < 0 or self.offer_event_retention_hours <= 0:
            raise ValueError(
                "offer_command_delay_seconds must be >= 0, offer_event_retention_hours > 0"
            )
        if min(limit for pair in self.offer_change_limits().values() for limit in pair) < 1:
            raise ValueError("offer change limits must be at least 1")

    def offer_change_limits(self) -> dict[str, tuple[int, int]]:
        """Per command kind: (offer changes a minute, offer changes an hour)."""
        return {
            "quantity": (
                self.offer_quantity_changes_per_minute,
                self.offer_quantity_changes_per_hour,
            ),
            "price": (self.offer_price_changes_per_minute, self.offer_price_changes_per_hour),
            "publication": (
                self.offer_publication_changes_per_minute,
                self.offer_publication_changes_per_hour,
            ),
        }


_RATES = (
    "error_rate",
    "rate_limit_rate",
    "delay_rate",
    "timeout_rate",
    "lost_write_rate",
    "offer_task_failure_rate",
)
# How a write whose response is lost looks to the client: a 500, a connection closed
# before the body, or no answer until `hang_seconds` (then a 504).
LOST_WRITE_MODES = ("error", "drop", "timeout")


@dataclass(slots=True)
class FaultPlan:
    """What goes wrong, and how often. Mutable on purpose: tests flip it between requests.

    Faults apply to REST requests only, never to OAuth or `/__sim/*`.
    """

    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    delay_seconds: float = 0.0
    delay_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_seconds: float = 30.0
    next_errors: list[int] = field(default_factory=list)
    retry_after_on_429: int | None = None
    # Writes (the fulfillment PUT, the shipments POST) that succeed, take effect, and whose
    # answer never reaches the client: the next `lose_next_writes` of them, then a share.
    lose_next_writes: int = 0
    lost_write_rate: float = 0.0
    lost_write_mode: str = "error"
    # Batch offer command tasks that FAIL: a share picked by a seeded hash of (command id,
    # offer id), so a run is reproducible, and every task of the listed offers.
    offer_task_failure_rate: float = 0.0
    failing_offer_ids: list[str] = field(default_factory=list)

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial JSON-ish update atomically: validate everything, then assign."""
        unknown = set(changes) - set(self.to_dict())
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        merged = FaultPlan(**{**self.to_dict(), **changes})
        merged.validate()
        for name, value in merged.to_dict().items():
            setattr(self, name, value)

    def validate(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        for name in ("delay_seconds", "hang_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
        if not isinstance(self.next_errors, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and 400 <= s <= 599
            for s in self.next_errors
        ):
            raise ValueError("next_errors must be a list of HTTP error statuses (400-599)")
        retry = self.retry_after_on_429
        if retry is not None and (
            isinstance(retry, bool) or not isinstance(retry, int) or retry < 0
        ):
            raise ValueError("retry_after_on_429 must be a non-negative integer or null")
        lose = self.lose_next_writes
        if isinstance(lose, bool) or not isinstance(lose, int) or lose < 0:
            raise ValueError("lose_next_writes must be a non-negative integer")
        if not isinstance(self.failing_offer_ids, list) or not all(
            isinstance(i, str) for i in self.failing_offer_ids
        ):
            raise ValueError("failing_offer_ids must be a list of offer ids")
        if self.lost_write_mode not in LOST_WRITE_MODES:
            raise ValueError(f"lost_write_mode must be one of {', '.join(LOST_WRITE_MODES)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
