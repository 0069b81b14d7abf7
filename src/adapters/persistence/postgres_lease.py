"""A leader lease per account, so that of several replicas only one polls it at a time.

Each account has one lease row, never deleted, whose fencing token grows by one whenever
the lease changes hands. A replica that stalls past its lease (a long GC pause, a network
partition) and wakes up cannot overwrite its successor's work: a `PostgresStateStore`
given a `LeaseFence` checks, inside the commit's own transaction, that the lease it holds
is still current. Expiry is judged by the database clock, never the replicas'.

Takeover after a crash does not wait for the expiry. While it holds the lease, a replica
also holds a session-level advisory lock on the account, on a connection of its own (the
lock session), and the row records that it does (`session_locked`). PostgreSQL releases
the lock when that session ends, which it sees at once when the holder's process dies
(SIGKILL included: the kernel closes its socket). A candidate that obtains the lock while
the row says its holder held it therefore knows the holder's session is gone, and takes
the lease at once, with a higher fencing token. Standbys wait on the lock itself, so they
learn of a crash as soon as the server does. The fence is unchanged, so an early takeover
is as safe as one at expiry: a holder whose lock session dropped while its process lives
on is fenced like a stalled one (its commits are refused, its next renewal finds the lease
lost). A row taken without the lock (a stalled predecessor's session still held it) passes
on at expiry only, as before; so does one whose holder's host vanished without closing its
connection, until the server notices the dead connection.

The lock session needs a server session of its own: a direct connection or a session-pooled
one (PgBouncer `pool_mode = session`). Transaction pooling does not keep session state (the
advisory lock, like the stores' `search_path`) with the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg import errors

from adapters.persistence.lifecycle import OwnsDatabase
from adapters.persistence.postgres_database import Connection, PostgresDatabase, connect
from adapters.persistence.url import PostgresLocation
from application.ports.errors import StateStoreError

log = logging.getLogger(__name__)

LOCK_SESSION_NAME = "openoms-allegro lease lock"  # shown in pg_stat_activity

_ACQUIRE = """
    INSERT INTO leases (account, holder, fencing_token, expires_at, session_locked)
    VALUES (%(account)s, %(holder)s, 1, now() + %(ttl)s, %(locked)s)
    ON CONFLICT (account) DO UPDATE
    SET fencing_token = CASE
            WHEN leases.holder = excluded.holder AND leases.expires_at > now()
            THEN leases.fencing_token
            ELSE leases.fencing_token + 1
        END,
        holder = excluded.holder,
        expires_at = excluded.expires_at,
        session_locked = excluded.session_locked
    WHERE leases.holder = excluded.holder OR leases.expires_at <= now()
       OR (leases.session_locked AND excluded.session_locked)
    RETURNING account, holder, fencing_token, expires_at
"""
_RENEW = """
    UPDATE leases SET expires_at = now() + %(ttl)s, session_locked = %(locked)s
    WHERE account = %(account)s AND holder = %(holder)s AND fencing_token = %(token)s
      AND expires_at > now()
    RETURNING account, holder, fencing_token, expires_at
"""
_RELEASE = """
    UPDATE leases SET expires_at = now(), session_locked = false
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
_HOLDER_LOCKED = """
    SELECT session_locked FROM leases WHERE account = %s AND expires_at > now()
"""
# One key per schema and account: two schemas of one database never share a lock. Should
# two keys collide, a takeover would only wait for the expiry: the row decides who leads.
_KEY = "hashtext('openoms_allegro.lease'), hashtext(%(scope)s)"
_TRY_LOCK = f"SELECT pg_try_advisory_lock({_KEY})"
_LOCK = f"SELECT pg_advisory_lock({_KEY})"
_UNLOCK = f"SELECT pg_advisory_unlock({_KEY})"
_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', %(timeout)s, false)"


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
        self._locks = _LockSession(database.location)

    @classmethod
    async def open(cls, location: PostgresLocation) -> PostgresLease:
        return cls(await PostgresDatabase.open(location))

    async def aclose(self) -> None:
        await self._locks.aclose()  # frees the lock: whoever is waiting takes over now
        await super().aclose()

    async def acquire(self, account: str, holder: str, ttl: timedelta) -> Lease | None:
        """The lease if it was free, expired, already ours (then it is extended), or held by
        a replica whose lock session has ended; else None."""
        _check_ttl(ttl)
        locked = await self._locks.take(account, holder)
        parameters = {"account": account, "holder": holder, "ttl": ttl, "locked": locked}
        async with (
            self._locks.dropped_on_error(account, holder),
            self._database.transaction("acquiring the lease") as connection,
        ):
            lease = await _fetch_lease(connection, _ACQUIRE, parameters)
        if lease is None:  # a standby keeps no lock: it would hide the leader's crash
            await self._locks.give_up(account, holder)
        return lease

    async def renew(self, lease: Lease, ttl: timedelta) -> Lease:
        """Extends a lease still held; raises LeaseLost if it expired or changed hands.

        Takes the lock again if its session dropped (and nobody else took the lock)."""
        _check_ttl(ttl)
        locked = await self._locks.take(lease.account, lease.holder)
        parameters = {**_identity(lease), "ttl": ttl, "locked": locked}
        async with self._database.transaction("renewing the lease") as connection:
            renewed = await _fetch_lease(connection, _RENEW, parameters)
        if renewed is None:
            await self._locks.give_up(lease.account, lease.holder)
            raise LeaseLost(f"the lease of account {lease.account!r} expired or changed hands")
        return renewed

    async def current(self, account: str) -> Lease | None:
        """The lease held now (by the database clock), or None: for `status`, reads only."""
        async with self._database.transaction("reading the lease") as connection:
            return await _fetch_lease(connection, _CURRENT, {"account": account})

    async def release(self, lease: Lease) -> None:
        """Lets another replica take over now rather than at expiry; a lost lease is a no-op."""
        async with (
            self._locks.dropped_on_error(lease.account, lease.holder),
            self._database.transaction("releasing the lease") as connection,
        ):
            await connection.execute(_RELEASE, _identity(lease))
        await self._locks.give_up(lease.account, lease.holder)

    async def wait_for_holder(self, account: str, holder: str, within: timedelta) -> bool:
        """For a standby: waits up to `within` for the lease's holder to lose its lock
        session, True as soon as `acquire` may succeed (at once if the lease is free);
        False if it may not yet. A holder without the lock is waited for by expiry only
        (False at once), so that a standby never keeps the lock from a leader."""
        rows = await self._database.fetch_all("reading the lease", _HOLDER_LOCKED, (account,))
        if not rows:
            return True
        if not rows[0][0]:
            return False
        return await self._locks.wait(account, holder, within)


class _LockSessionFailed(Exception):
    """The lock session's connection failed, and was closed (which freed its locks)."""


class _LockSession:
    """The account locks of one process, on a connection of its own, and for whom (a lease
    holder) each one is held. Anything that goes wrong on that connection closes it, which
    frees its locks on the server: the lease then falls back to expiry, never to two
    holders. Advisory locks count re-entries, so each is taken once and tracked here."""

    def __init__(self, location: PostgresLocation) -> None:
        self._location = location
        self._connection: Connection | None = None
        self._held: dict[str, str] = {}  # account -> holder
        self._mutex = asyncio.Lock()

    async def take(self, account: str, holder: str) -> bool:
        """True if the account's lock is held for `holder` now (taken before or now);
        False if another session holds it, or this process holds it for another holder."""
        async with self._mutex:
            current = self._held.get(account)
            if current is not None and current != holder:
                return False
            if current is not None:
                # Still held while the session lives; if it died, the lock went with it:
                # take it again on a new one.
                with suppress(_LockSessionFailed):
                    await self._fetch("SELECT true", {})
                    return True
            try:
                got = bool(await self._fetch(_TRY_LOCK, self._key(account)))
            except _LockSessionFailed:
                return False
            if got:
                self._held[account] = holder
            return got

    async def wait(self, account: str, holder: str, within: timedelta) -> bool:
        """Waits up to `within` for the account's lock; True once it is held for `holder`."""
        async with self._mutex:
            if account in self._held:
                return self._held[account] == holder
            timeout = f"{max(1, int(within.total_seconds() * 1000))}ms"
            try:
                await self._fetch(_LOCK_TIMEOUT, {"timeout": timeout})
                await self._fetch(_LOCK, self._key(account))
            except (_LockSessionFailed, errors.LockNotAvailable):
                return False
            self._held[account] = holder
            return True

    async def give_up(self, account: str, holder: str) -> None:
        """Unlocks the account's lock if it is held for `holder`."""
        async with self._mutex:
            if self._held.get(account) != holder:
                return
            del self._held[account]
            with suppress(_LockSessionFailed):
                await self._fetch(_UNLOCK, self._key(account))

    @asynccontextmanager
    async def dropped_on_error(self, account: str, holder: str) -> AsyncIterator[None]:
        """On an error or a cancellation in the block: closes the session (no query that
        could hang) if it holds the account's lock for `holder`."""
        try:
            yield
        except BaseException:
            if self._held.get(account) == holder:
                await self._close()
            raise

    async def aclose(self) -> None:
        await self._close()

    def _key(self, account: str) -> dict[str, object]:
        return {"scope": f"{self._location.schema}/{account}"}

    async def _fetch(self, query: str, parameters: dict[str, object]) -> object:
        """The first value the query returns. A lock wait that times out raises
        LockNotAvailable and leaves the session usable; any other failure closes it."""
        try:
            connection = await self._usable_connection()
            cursor = await connection.execute(query, parameters)
            row = await cursor.fetchone()
        except errors.LockNotAvailable:
            raise
        except (psycopg.Error, StateStoreError) as exc:
            log.warning(
                "lease lock session failed: a crash is noticed at the lease's expiry meanwhile",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )
            await self._close()
            raise _LockSessionFailed(str(exc)) from exc
        except BaseException:  # cancelled mid-query: whether a lock was granted is unknown
            await self._close()
            raise
        return row[0] if row is not None else None

    async def _usable_connection(self) -> Connection:
        connection = self._connection
        if connection is None or connection.closed or connection.broken:
            self._held.clear()  # the server freed them with the old session
            self._connection = None
            connection = await connect(self._location, application_name=LOCK_SESSION_NAME)
            self._connection = connection
        return connection

    async def _close(self) -> None:
        self._held.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


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
