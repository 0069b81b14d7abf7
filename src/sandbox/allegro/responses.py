"""Response helpers: Allegro's vendor media type, compact UTF-8 JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

VENDOR_JSON = "application/vnd.allegro.public.v1+json"
PLAIN_JSON = "application/json;charset=UTF-8"


def encode(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def vendor(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(encode(body), status_code=status, media_type=VENDOR_JSON, headers=headers)


def vendor_bytes(content: bytes, status: int = 200) -> Response:
    """An answer already encoded (see `encoding.EncodingCache`)."""
    return Response(content, status_code=status, media_type=VENDOR_JSON)


def plain(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """OAuth answers and, oddly, 406s come back as plain JSON."""
    return Response(encode(body), status_code=status, media_type=PLAIN_JSON, headers=headers)
