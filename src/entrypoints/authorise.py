"""`openoms-allegro auth login`: the OAuth device flow, tokens stored encrypted.

The seller opens the verification URL, confirms the code, and the tokens land in the
token store (`STATE_URL`), sealed with `TOKEN_ENCRYPTION_KEY`. A running service takes
them over at its next token refresh.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from adapters.allegro import DeviceAuthorization, DeviceFlow
from entrypoints.containers import allegro_config
from entrypoints.settings import ConfigurationError, Settings
from entrypoints.wiring import opened


def require_token_key(settings: Settings) -> None:
    if settings.token_encryption_key is None:
        raise ConfigurationError(
            "TOKEN_ENCRYPTION_KEY is required: OAuth tokens are stored encrypted "
            "(generate one with `openoms-allegro auth generate-key`)"
        )


def instructions(account: str, authorization: DeviceAuthorization) -> str:
    url = authorization.verification_uri_complete or authorization.verification_uri
    minutes = max(int(authorization.expires_in // 60), 1)
    return (
        f"To authorise openoms-allegro for the Allegro account {account!r}:\n"
        f"  1. open   {url}\n"
        f"  2. check that the page shows the code   {authorization.user_code}\n"
        f"  3. confirm it (the code expires in {minutes} min)\n"
        "Waiting for the confirmation..."
    )


async def login(settings: Settings, echo: Callable[[str], None]) -> datetime:
    """Runs the device flow; returns when the stored access token expires.

    Raises DeviceFlowError (denied, expired) or another PortError; no token is printed.
    """
    require_token_key(settings)
    async with opened(settings) as wired:
        tokens = await wired.token_store()
        async with DeviceFlow(allegro_config(settings), tokens, observer=wired.metrics) as flow:
            authorization = await flow.start()
            echo(instructions(settings.allegro_account, authorization))
            pair = await flow.poll_until_done(authorization)
        return pair.expires_at
