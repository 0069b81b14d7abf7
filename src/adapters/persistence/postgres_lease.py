"""A leader lease per account, so that of several replicas only one polls it at a time.

Each account has one lease row, never deleted, whose fencing token grows by one whenever
the lease changes hands. A replica that stalls past its lease (a long GC pause, a network
partition) and wakes up cannot overwrite its successor's work: a `PostgresStateStore`
given a `LeaseFence` checks, inside the commit's own transaction, that the lease it holds
is still current. Expiry is judged by the database clock, never the replicas'.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime, timedelta

from adapters.persistence.lifecycle import OwnsDatabase
from adapters.persistence.postgres_database import Connection, PostgresDatabase
from adapters.persistence.url import PostgresLocation
from application.ports.errors import StateStoreError

_ACQUIRE = """
    INSERT INTO leases (account, holder, fencing_token, expires_at)
    VALUES (%(account)s, %(holder)s, 1, now() + %(ttl)s)
    ON CONFLICT (account) DO UPDATE
    SET fencing_token = CASE
            WHEN leases.holder = excluded.holder AND leases.expires_at > now()
            THEN leases.fencing_token
            ELSE leases.fencing_token + 1
        END,
        holder = excluded.holder,
        expires_at = excluded.expires_at
    WHERE leases.holder = excluded.holder OR leases.expires_at <= now()
    RETURNING account, holder, fencing_token, expires_at
"""
_RENEW = """
    UPDATE leases SET expires_at = now() + %(ttl)s
    WHERE account = %(account)s AND holder = %(holder)s AND fencing_token = %(token)s
      AND expires_at > now()
    RETURNING account, holder, fencing_token, expires_at
"""
_RELEASE = """
    UPDATE leases SET expires_at = now()
    WHERE account = %(account)s AND holder = %(holder)s AND fencing_token = %(token)s
"""
_CHECK = """
    SELECT 1 FROM leases
    WHERE account = %(account)s AND holder = %(holder)s AND fencing_token = %(token)s
      AND expires_at > now()
    FOR SHARE
"""
_CURRENT = """
    SELECT account, holder, fencing_token, expires_at FROM leases
    WHERE account = %(account)s AND expires_at > now()
"""


@dataclass(frozen=True, slots=True)
class Lease:
    account: str
    holder: str
    fencing_token: int
    expires_at: datetime


class LeaseLost(StateStoreError):
    """This replica no longer holds the account's lease: stop, and try to acquire it again."""


class LeaseFence:
    """The lease this replica holds now: whoever keeps the lease sets it, commits check it."""

    def __init__(self) -> None:
        self.lease: Lease | None = None


class PostgresLease(OwnsDatabase[PostgresDatabase]):
    def __init__(self, database: PostgresDatabase) -> None:
        self._database = database

    @classmethod
    async def open(cls, location: PostgresLocation) -> PostgresLease:
        return cls(await PostgresDatabase.open(location))

    async def acquire(self, account: str, holder: str, ttl: timedelta) -> Lease | None:
        """The lease if it was free, expired or already ours (then it is extended); else None."""
        _check_ttl(ttl)
        parameters = {"account": account, "holder": holder, "ttl": ttl}
        async with self._database.transaction("acquiring the lease") as connection:
            return await _fetch_lease(connection, _ACQUIRE, parameters)

    async def renew(self, lease: Lease, ttl: timedelta) -> Lease:
        """Extends a lease still held; raises LeaseLost if it expired or changed hands."""
        _check_ttl(ttl)
        parameters = {**_identity(lease), "ttl": ttl}
        async with self._database.transaction("renewing the lease") as connection:
            renewed = await _fetch_lease(connection, _RENEW, parameters)
        if renewed is None:
            raise LeaseLost(f"the lease of account {lease.account!r} expired or changed hands")
        return renewed

    async def current(self, account: str) -> Lease | None:
        """The lease held now (by the database clock), or None: for `status`, reads only."""
        async with self._database.transaction("reading the lease") as connection:
            return await _fetch_lease(connection, _CURRENT, {"account": account})

    async def release(self, lease: Lease) -> None:
        """Lets another replica take over now rather than at expiry; a lost lease is a no-op."""
        async with self._database.transaction("releasing the lease") as connection:
            await connection.execute(_RELEASE, _identity(lease))


async def check_fence(connection: Connection, account: str, fence: LeaseFence) -> None:
    """Inside a commit's transaction: raises LeaseLost unless the fence's lease is current.

    The row lock makes a takeover wait until this transaction ends.
    """
    lease = fence.lease
    if lease is None or lease.account != account:
        raise LeaseLost(f"this replica holds no lease on account {account!r}")
    cursor = await connection.execute(_CHECK, _identity(lease))
    if await cursor.fetchone() is None:
        raise LeaseLost(
            f"the lease of account {account!r} (fencing token {lease.fencing_token}) "
            "expired or changed hands: nothing was committed"
        )


async def postgres_lease_resource(
    location: PostgresLocation,
) -> AsyncGenerator[PostgresLease, None]:
    """For `providers.Resource`: connects (and migrates), closes on shutdown."""
    async with await PostgresLease.open(location) as lease:
        yield lease


def _identity(lease: Lease) -> dict[str, object]:
    return {"account": lease.account, "holder": lease.holder, "token": lease.fencing_token}


def _check_ttl(ttl: timedelta) -> None:
    if ttl <= timedelta(0):
        raise ValueError(f"a lease's ttl must be positive, got {ttl}")


async def _fetch_lease(
    connection: Connection, query: str, parameters: dict[str, object]
) -> Lease | None:
    cursor = await connection.execute(query, parameters)
    row = await cursor.fetchone()
    if row is None:
        return None
    account, holder, fencing_token, expires_at = row
    return Lease(account, holder, fencing_token, expires_at)
