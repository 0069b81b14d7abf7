"""A faithful, in-process Allegro REST API simulator served over real HTTP.

Used by the test suite, `openoms-allegro sandbox serve` / `demo`, and fault tests and
benchmarks. It speaks Allegro's raw camelCase JSON and imports no other adapter.
"""

from sandbox.allegro.clock import Clock, ManualClock, SystemClock
from sandbox.allegro.config import FaultPlan, SimulatorConfig
from sandbox.allegro.generator import LineItemSpec
from sandbox.allegro.live import start_live_activity
from sandbox.allegro.server import SimulatorServer, run_forever
from sandbox.allegro.state import (
    CommandNotFound,
    OfferNotFound,
    OfferRejected,
    OfferSpec,
    OrderNotFound,
    RequestLogEntry,
    RevisionConflict,
    ShipmentRejected,
    SimulatorState,
)

__all__ = [
    "Clock",
    "CommandNotFound",
    "FaultPlan",
    "LineItemSpec",
    "ManualClock",
    "OfferNotFound",
    "OfferRejected",
    "OfferSpec",
    "OrderNotFound",
    "RequestLogEntry",
    "RevisionConflict",
    "ShipmentRejected",
    "SimulatorConfig",
    "SimulatorServer",
    "SimulatorState",
    "SystemClock",
    "run_forever",
    "start_live_activity",
]
