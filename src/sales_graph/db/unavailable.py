"""Whether an error means the database could not be reached (down, restarting, connections
cut), rather than a fault of the request or of our code: such a request is answered with a
retryable 503, not a 500 (docs/errors.md)."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# Connection exceptions (class 08) and operator intervention (57P: admin or crash shutdown,
# cannot connect now): what a restart or a failover sends.
_SQLSTATE_PREFIXES = ("08", "57P")
_INVALIDATED = "Can't reconnect until invalid"


def _sqlstate(error: BaseException) -> str | None:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return state if isinstance(state, str) else None


def is_unavailable(error: BaseException) -> bool:
    """True for the database being unreachable anywhere in ``error``'s chain of causes."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PoolTimeout):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, PendingRollbackError) and _INVALIDATED in str(current):
            # A commit after the connection was lost in the request (SQLAlchemy invalidated it):
            # "Can't reconnect until invalid (savepoint) transaction is rolled back".
            return True
        state = _sqlstate(current)
        if state is not None and state.startswith(_SQLSTATE_PREFIXES):
            return True
        if type(current).__module__.startswith("asyncpg") and type(current).__name__ in (
            "ConnectionDoesNotExistError",
            "InterfaceError",
        ):
            return True
        if isinstance(current, sqlite3.OperationalError) and "locked" in str(current):
            return True  # another process held the SQLite file past busy_timeout
        if isinstance(current, ConnectionError | OSError) and not isinstance(
            current, FileNotFoundError | PermissionError
        ):
            return True
        # SQLAlchemy keeps the driver's exception as ``orig``, not as the cause.
        orig = current.orig if isinstance(current, DBAPIError) else None
        if isinstance(orig, BaseException) and id(orig) not in seen:
            current = orig
        else:
            current = current.__cause__ or current.__context__
    return False
