"""A faithful, in-process Allegro REST API simulator served over real HTTP.

Used by the test suite, `openoms-allegro sandbox serve` / `demo`, and fault tests and
benchmarks. It speaks Allegro's raw camelCase JSON and imports no other adapter.
"""

from adapters.simulator.clock import Clock, ManualClock, SystemClock
from adapters.simulator.config import FaultPlan, SimulatorConfig
from adapters.simulator.generator import LineItemSpec
from adapters.simulator.live import start_live_activity
from adapters.simulator.server import SimulatorServer, run_forever
from adapters.simulator.state import (
    OrderNotFound,
    RequestLogEntry,
    RevisionConflict,
    SimulatorState,
)

__all__ = [
    "Clock",
    "FaultPlan",
    "LineItemSpec",
    "ManualClock",
    "OrderNotFound",
    "RequestLogEntry",
    "RevisionConflict",
    "SimulatorConfig",
    "SimulatorServer",
    "SimulatorState",
    "SystemClock",
    "run_forever",
    "start_live_activity",
]
