"""The HTTP listener: bound before anything else, one line when it cannot be; uvicorn's
records go through our root handler (issue 12, items 1 and 6)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

from entrypoints.errors import StartupError
from entrypoints.http import HttpLimits, bind_listeners, server_config

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture
def pristine_uvicorn_loggers() -> Iterator[None]:
    saved = {name: logging.getLogger(name) for name in UVICORN_LOGGERS}
    state = {name: (lg.handlers[:], lg.propagate, lg.level) for name, lg in saved.items()}
    for lg in saved.values():
        lg.handlers, lg.propagate = [], True
    yield
    for name, (handlers, propagate, level) in state.items():
        lg = saved[name]
        lg.handlers, lg.propagate, lg.level = handlers, propagate, level


@pytest.mark.usefixtures("pristine_uvicorn_loggers")
def test_uvicorn_installs_no_logging_of_its_own() -> None:
    server_config(Starlette(), "127.0.0.1", 0, HttpLimits())

    # uvicorn.access is silenced on purpose (access_log=False): no line per probe or scrape.
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        assert logger.handlers == [], name
        assert logger.propagate, name


def test_a_port_in_use_is_one_line_naming_http_port() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]

        with pytest.raises(StartupError) as caught:
            bind_listeners("127.0.0.1", port)

    message = str(caught.value)
    assert message.startswith(f"HTTP_PORT {port} on 127.0.0.1 is in use"), message
    assert "\n" not in message


def test_an_address_that_is_not_ours_names_http_host() -> None:
    with pytest.raises(StartupError, match=r"^HTTP_HOST 192\.0\.2\.1 is not an address"):
        bind_listeners("192.0.2.1", 0)  # TEST-NET-1 (RFC 5737): never a local address


def test_the_listener_is_bound_but_refuses_until_served() -> None:
    [listener] = bind_listeners("127.0.0.1", 0)
    try:
        port = listener.getsockname()[1]
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        listener.close()


def test_every_address_of_a_host_name_is_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """As uvicorn did on its own (asyncio's create_server): `HTTP_HOST=localhost` on a host
    whose resolver answers ::1 first must still serve 127.0.0.1, where probes and curl go."""
    real = socket.getaddrinfo

    def resolver(host: str, port: int, *args: object, **kwargs: object) -> list[object]:
        assert host == "localhost"
        return [*real("::1", port, *args, **kwargs), *real("127.0.0.1", port, *args, **kwargs)]  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)

    listeners = bind_listeners("localhost", 0)
    try:
        assert sorted(sock.getsockname()[0] for sock in listeners) == ["127.0.0.1", "::1"]
    finally:
        for sock in listeners:
            sock.close()
