"""Structured logs (JSON when not a TTY) that never carry a secret or buyer data in clear.

Two safety nets: fields whose *name* says they are sensitive are masked, and values that
*look* sensitive (e-mail addresses, bearer tokens, JWTs) are masked wherever they appear.

One handler, on the root logger, formats every record, ours and the libraries' (aiokafka,
uvicorn, warnings), so the stream stays one JSON object per line. Repeated warnings and
errors (aiokafka retries a dead broker dozens of times a second) are thinned to one line
per cause per `REPEAT_INTERVAL_SECONDS`, the next one carrying the count it stands for.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_SENSITIVE_KEY = re.compile(
    r"token|secret|password|passwd|authorization|email|phone|address|street|"
    r"first_?name|last_?name|login|customer|buyer|personal|sasl|key$",
    re.IGNORECASE,
)
_PATTERNS = (
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"(?i)bearer\s+[\w\-.~+/]+=*"), "Bearer <redacted>"),
    (re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*"), "<jwt>"),
    (re.compile(r"(?i)(refresh_token|access_token|client_secret)=[^&\s]+"), r"\1=<redacted>"),
)
REDACTED = "<redacted>"


def scrub(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _clean(key: str, value: Any) -> Any:
    if _SENSITIVE_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub(str(value))


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: _clean(key, value)
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            **_fields(record),
        }
        if record.exc_info:
            payload["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{stamp} {record.levelname:<7} {record.name}: {scrub(record.getMessage())}"
        if extras:
            line = f"{line} {extras}"
        if record.exc_info:
            line = f"{line}\n{scrub(self.formatException(record.exc_info))}"
        return line


class ContextFilter(logging.Filter):
    """Adds fields every record of this process shares (the seller account), unless the
    record carries its own."""

    def __init__(self, **context: str) -> None:
        super().__init__()
        self._context = context

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in self._context.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


REPEAT_INTERVAL_SECONDS = 30.0
REPEAT_MAX_CAUSES = 1024
OWN_PACKAGES = ("domain", "application", "adapters", "entrypoints")
# Libraries whose records must reach the root handler: no handler of their own, propagating.
THIRD_PARTY_LOGGERS = (
    "aiokafka",
    "kafka",
    "httpx",
    "httpcore",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "asyncio",
    "py.warnings",
)
_QUIET = ("aiokafka", "kafka", "httpx", "httpcore", "uvicorn.access")


@dataclass(slots=True)
class _Window:
    opened: float
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    """Lets one record per cause through per `interval` seconds; the first one after that
    carries `repeated`: how many were dropped meanwhile.

    A cause is (logger, level, message template, error types): aiokafka's "Unable connect
    to node with id %s: %s" is one cause whatever the node, but libraries pass the error as
    an argument (`log.error("...: %s", err)`), so the type of every exception among the
    arguments (and of `exc_info`) is part of the cause: a new error behind the same template
    (the broker back but refusing the credentials) is shown at once, not 30 s later. Only
    records at `min_level` and above are thinned, and none of the loggers under `exempt`
    (the service's own): those are paced by design (one per batch, one per failed poll,
    which backs off) and each carries the facts of one event (an order dead-lettered, the
    delay before the next poll) that a count would lose; libraries log once per retry.
    Memory is bounded: the least recently seen causes beyond `max_causes` are forgotten
    (with their count), so a flood of distinct causes cannot grow the table."""

    def __init__(
        self,
        interval: float = REPEAT_INTERVAL_SECONDS,
        *,
        min_level: int = logging.WARNING,
        exempt: tuple[str, ...] = OWN_PACKAGES,
        max_causes: int = REPEAT_MAX_CAUSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._interval = interval
        self._min_level = min_level
        self._exempt = exempt
        self._max_causes = max_causes
        self._clock = clock
        self._windows: OrderedDict[tuple[str, int, str, str], _Window] = OrderedDict()
        self._lock = threading.Lock()  # handlers filter outside their own lock

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self._min_level or _under(record.name, self._exempt):
            return True
        cause = (record.name, record.levelno, str(record.msg), _error_types(record))
        now = self._clock()
        with self._lock:
            window = self._windows.get(cause)
            if window is not None:
                self._windows.move_to_end(cause)
                if now - window.opened < self._interval:
                    window.suppressed += 1
                    return False
            self._windows[cause] = _Window(now)
            self._windows.move_to_end(cause)
            while len(self._windows) > self._max_causes:
                self._windows.popitem(last=False)
        if window is not None and window.suppressed:
            record.repeated = window.suppressed
        return True


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in packages)


def _error_types(record: logging.LogRecord) -> str:
    """The names of the exception types in `exc_info` and among the arguments (an instance
    or a class, as aiokafka's `error_type`), in order; "" when there is none."""
    found: list[object] = []
    if record.exc_info and record.exc_info[0] is not None:
        found.append(record.exc_info[0])
    args = record.args if isinstance(record.args, tuple) else ()
    found.extend(args)
    names = []
    for item in found:
        if isinstance(item, BaseException):
            names.append(type(item).__name__)
        elif isinstance(item, type) and issubclass(item, BaseException):
            names.append(item.__name__)
    return ",".join(names)


def configure_logging(level: str = "INFO", fmt: str = "auto", **context: str) -> None:
    """`context`: fields added to every record, e.g. `account="shop-1"`."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(RepeatFilter())
    if context:
        handler.addFilter(ContextFilter(**context))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # warnings (e.g. an unclosed client) as records too
    for name in THIRD_PARTY_LOGGERS:
        route_to_root(name)
    for noisy in _QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def route_to_root(name: str) -> None:
    """Makes the logger `name` (and any child a library configured) hand its records to
    the root handler only: no handlers of its own, propagating, not disabled."""
    for logger_name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and (
            logger_name == name or logger_name.startswith(f"{name}.")
        ):
            logger.handlers.clear()
            logger.propagate = True
            logger.disabled = False
    logger = logging.getLogger(name)
    logger.handlers.clear()
    logger.propagate = True
    logger.disabled = False
