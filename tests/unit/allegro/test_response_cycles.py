"""A response is freed as soon as it is parsed: httpx's response/stream reference cycle is
broken by the adapter, so a page body never waits for the cyclic garbage collector."""

from __future__ import annotations

import gc
import weakref

import httpx
import respx

from adapters.allegro import build_allegro_client

from .fakes import API_URL, FakeTime, MemoryTokenStore, make_config, valid_pair


async def test_a_journal_page_is_freed_without_the_cyclic_collector(
    respx_mock: respx.MockRouter,
) -> None:
    time = FakeTime()
    store = MemoryTokenStore({"default": valid_pair(time)})
    respx_mock.get(f"{API_URL}/order/events").respond(200, json={"events": []})
    client = build_allegro_client(make_config(), store, clock=time)
    responses: list[weakref.ref[httpx.Response]] = []
    original = httpx.AsyncClient.send

    async def send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: object):
        response = await original(self, request, **kwargs)  # type: ignore[arg-type]
        responses.append(weakref.ref(response))
        return response

    gc.disable()
    try:
        httpx.AsyncClient.send = send  # type: ignore[method-assign]
        try:
            assert await client.journal.fetch(None, 100) == []
        finally:
            httpx.AsyncClient.send = original  # type: ignore[method-assign]
        assert responses
        assert all(ref() is None for ref in responses)  # freed by reference counting alone
    finally:
        gc.enable()
        await client.aclose()
