"""Allegro's authorisation server in memory: rotation, grace, device codes, app tokens.

Pure logic with time passed in; the HTTP layer (oauth.py) only translates to and from forms.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SCOPES = (
    "allegro:api:orders:read",
    "allegro:api:orders:write",
    "allegro:api:sale:offers:read",
    "allegro:api:sale:offers:write",
    "allegro:api:profile:read",
)
_USER_CODE_ALPHABET = string.ascii_lowercase + string.digits


def narrow_scopes(requested: Iterable[str] | None) -> tuple[str, ...]:
    """What a seller's authorisation grants: none requested means every declared scope;
    more than declared is capped at the declared set (docs/allegro-api.md, OAuth)."""
    wanted = set(requested or ())
    if not wanted:
        return SCOPES
    return tuple(scope for scope in SCOPES if scope in wanted)


class OAuthError(Exception):
    """An OAuth error answer: HTTP status plus the `error` / `error_description` body."""

    def __init__(self, status: int, error: str, description: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description is not None:
            body["error_description"] = self.description
        return body


@dataclass(slots=True)
class Session:
    """One authorisation of one user for one client; refreshes stay inside it."""

    client_id: str
    user_id: str
    current_access: str | None = None
    scopes: tuple[str, ...] = SCOPES


@dataclass(frozen=True, slots=True)
class AccessGrant:
    client_id: str
    session: Session | None  # None for client_credentials (application) tokens
    expires_at: float

    @property
    def is_user_token(self) -> bool:
        return self.session is not None

    def allows(self, scope: str) -> bool:
        return self.session is not None and scope in self.session.scopes


@dataclass(slots=True)
class RefreshGrant:
    session: Session
    expires_at: float
    first_used_at: float | None = None


@dataclass(slots=True)
class DeviceGrant:
    client_id: str
    user_code: str
    expires_at: float
    interval: float
    last_poll: float | None = None
    decision: str = "pending"  # pending | approved | denied | consumed
    scopes: tuple[str, ...] = SCOPES


@dataclass(slots=True)
class TokenAuthority:
    client_id: str
    client_secret: str
    user_id: str
    access_ttl: float
    refresh_ttl: float
    grace: float
    device_interval: float
    device_ttl: float
    _access: dict[str, AccessGrant] = field(default_factory=dict)
    _refresh: dict[str, RefreshGrant] = field(default_factory=dict)
    _devices: dict[str, DeviceGrant] = field(default_factory=dict)
    _user_codes: dict[str, str] = field(default_factory=dict)

    def check_client(self, client_id: str | None, secret: str | None) -> str:
        if client_id is None:
            raise OAuthError(
                401, "unauthorized", "Full authentication is required to access this resource"
            )
        if client_id != self.client_id or not secrets.compare_digest(
            (secret or "").encode(), self.client_secret.encode()
        ):
            raise OAuthError(401, "invalid_client", "Bad client credentials")
        return client_id

    def new_session(
        self, now: float, token: str | None = None, scopes: Iterable[str] | None = None
    ) -> str:
        """A refresh token as if the seller had just authorised the app (`token`: a fixed one,
        e.g. the value docker-compose hands to the service; `scopes`: the ones asked for)."""
        session = Session(self.client_id, self.user_id, scopes=narrow_scopes(scopes))
        if token is None:
            return self._new_refresh(session, now)
        self._refresh[token] = RefreshGrant(session, now + self.refresh_ttl)
        return token

    def refresh(self, client_id: str, token: str | None, now: float) -> dict[str, Any]:
        if not token:
            raise OAuthError(400, "invalid_request", "Missing refresh_token parameter")
        grant = self._refresh.get(token)
        if grant is None or grant.session.client_id != client_id or not self._usable(grant, now):
            raise OAuthError(400, "invalid_grant", f"Invalid refresh token: {token}")
        if grant.first_used_at is None:
            grant.first_used_at = now  # the grace period starts at first use
        return self._issue_pair(grant.session, now)

    def _usable(self, grant: RefreshGrant, now: float) -> bool:
        if now >= grant.expires_at:
            return False
        return grant.first_used_at is None or now < grant.first_used_at + self.grace

    def client_credentials(self, client_id: str, now: float) -> dict[str, Any]:
        token = self._jwt({"client_id": client_id, "exp": int(now + self.access_ttl)})
        self._access[token] = AccessGrant(client_id, None, now + self.access_ttl)
        return self._response(token, None, now)

    def start_device(
        self, client_id: str, now: float, scopes: Iterable[str] | None = None
    ) -> tuple[str, DeviceGrant]:
        device_code = secrets.token_urlsafe(24)
        user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(9))
        grant = DeviceGrant(
            client_id,
            user_code,
            now + self.device_ttl,
            self.device_interval,
            scopes=narrow_scopes(scopes),
        )
        self._devices[device_code] = grant
        self._user_codes[user_code] = device_code
        return device_code, grant

    def decide_device(self, user_code: str, approve: bool) -> None:
        device_code = self._user_codes.get(user_code.replace(" ", "").replace("-", "").lower())
        grant = self._devices.get(device_code or "")
        if grant is None or grant.decision != "pending":
            raise KeyError(user_code)
        grant.decision = "approved" if approve else "denied"

    def poll_device(self, client_id: str, device_code: str | None, now: float) -> dict[str, Any]:
        grant = self._devices.get(device_code or "")
        if grant is None or grant.client_id != client_id or grant.decision == "consumed":
            raise OAuthError(400, "Invalid device code")
        if now >= grant.expires_at:
            raise OAuthError(400, "expired_token", "Device code expired")
        too_fast = grant.last_poll is not None and now - grant.last_poll < grant.interval
        grant.last_poll = now
        if too_fast:
            grant.interval += 5  # slow_down adds five seconds for good (docs/allegro-api.md, OAuth)
            raise OAuthError(400, "slow_down")
        if grant.decision == "pending":
            raise OAuthError(400, "authorization_pending")
        if grant.decision == "denied":
            raise OAuthError(400, "access_denied")
        grant.decision = "consumed"  # a device code yields a token exactly once
        return self._issue_pair(Session(client_id, self.user_id, scopes=grant.scopes), now)

    def authenticate(self, token: str, now: float) -> AccessGrant:
        grant = self._access.get(token)
        if grant is None:
            raise OAuthError(401, "invalid_token", "Cannot convert access token to JSON")
        superseded = grant.session is not None and grant.session.current_access != token
        if superseded or now >= grant.expires_at:
            raise OAuthError(401, "invalid_token", f"Access token expired: {token}")
        return grant

    def client_of(self, token: str) -> str | None:
        grant = self._access.get(token)
        return grant.client_id if grant is not None else None

    def revoke_all(self) -> None:
        """Password change, logout everywhere, selling ban: every token stops working."""
        self._access.clear()
        self._refresh.clear()

    def _issue_pair(self, session: Session, now: float) -> dict[str, Any]:
        # Allegro kills the previous pair: replacing current_access makes the old token fail
        # `authenticate` as expired, the way a client that kept it would see it.
        jti = str(uuid.uuid4())
        access = self._jwt(
            {
                "user_name": session.user_id,
                "scope": list(session.scopes),
                "allegro_api": True,
                "exp": int(now + self.access_ttl),
                "jti": jti,
                "client_id": session.client_id,
                "iss": "https://allegro.pl/",
            }
        )
        self._access[access] = AccessGrant(session.client_id, session, now + self.access_ttl)
        session.current_access = access
        refresh = self._new_refresh(session, now, ati=jti)
        return self._response(access, refresh, now, jti, session.scopes)

    def _new_refresh(self, session: Session, now: float, ati: str | None = None) -> str:
        claims: dict[str, Any] = {
            "user_name": session.user_id,
            "client_id": session.client_id,
            "exp": int(now + self.refresh_ttl),
            "jti": str(uuid.uuid4()),
        }
        if ati:
            claims["ati"] = ati
        token = self._jwt(claims)
        self._refresh[token] = RefreshGrant(session, now + self.refresh_ttl)
        return token

    def _response(
        self,
        access: str,
        refresh: str | None,
        now: float,
        jti: str | None = None,
        scopes: tuple[str, ...] = SCOPES,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
        }
        if refresh is not None:
            body["refresh_token"] = refresh
        body.update(
            {
                "expires_in": int(self.access_ttl),
                "scope": " ".join(scopes),
                "allegro_api": True,
                "iss": "https://allegro.pl/",
                "jti": jti or str(uuid.uuid4()),
            }
        )
        return body

    @staticmethod
    def _jwt(claims: dict[str, Any]) -> str:
        """JWT-shaped (header.claims.signature) so clients that peek at `exp` work; unsigned."""

        def part(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = part(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        payload = part(json.dumps(claims, separators=(",", ":")).encode())
        return f"{header}.{payload}.{part(secrets.token_bytes(64))}"
