"""Headers Allegro expects on every call (docs/allegro-api.md, General conventions)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

VENDOR_MEDIA_TYPE = "application/vnd.allegro.public.v1+json"


def _user_agent() -> str:
    try:
        release = version("openoms-allegro")
    except PackageNotFoundError:
        release = "0"
    return f"openoms-allegro/{release} (OpenOMS Allegro order import)"


USER_AGENT = _user_agent()
# Content-Type goes on requests with a body only (see AllegroApi.request).
API_HEADERS = {"Accept": VENDOR_MEDIA_TYPE, "User-Agent": USER_AGENT}
