"""The error for a state store that does not exist, as the tools that only look meet it."""

from __future__ import annotations

from application.ports.errors import StateStoreError


class StateMissing(StateStoreError):
    """No state at `STATE_URL` (no SQLite file, no PostgreSQL schema): nothing has run with
    it yet. Raised only when opening without creating (`access` other than "create")."""
