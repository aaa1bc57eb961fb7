"""The database: one async engine per process, one session and one transaction per request.

What a request costs the database, in round trips: its own statements, and BEGIN and
COMMIT only if it writes. A request session (`DbSession`) runs its reads outside a
transaction until its first write, and that write begins the transaction, which commits
when the handler returns (or rolls back if it raises), so everything it writes commits or
rolls back together, a GET that writes (the access log of an unmasked read) included. A
request that only read ends with nothing to commit. Under READ COMMITTED, PostgreSQL's
default and ours, that changes what no statement sees: each statement takes its own
snapshot inside a transaction too. What does need the transaction begins it first: any
statement that is not a plain SELECT (INSERT, UPDATE, DELETE, DDL, SAVEPOINT, SET, WITH,
any `text()` that is not a SELECT), a SELECT that locks rows (FOR UPDATE/SHARE) or writes
(INTO), and one that calls the functions named in `_NOT_ONLY_READING` (advisory locks,
NOTIFY, sequences, set_config). A SELECT of another function with side effects would run
outside the transaction: call such a function from a statement that writes.

Connections are not pinged when taken from the pool (`pool_pre_ping` would cost a round
trip on every checkout). A pooled connection whose server went away (PostgreSQL restarted,
the backend terminated) fails its next statement, asyncpg reports the connection closed,
and SQLAlchemy then discards every connection the pool held before that moment: one
request fails, not one per pooled connection.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, Enum, MetaData, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapper, Session
from sqlalchemy.pool import Pool

from shared.settings import BaseServiceSettings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def advisory_key(name: str) -> int:
    """The signed 64-bit key of the advisory lock called `name` (`pg_advisory_xact_lock(key)`)."""
    return zlib.crc32(name.encode()) - 2**31


async def xact_lock(db: Any, *parts: Any) -> None:
    """Wait for, then hold until the transaction ends, the advisory lock named by `parts`
    (`await xact_lock(session, "selection.school_limit", campaign_id, school_id)`): for
    serialising one kind of write that has no row to lock. Two names sharing a key only make
    their writers wait for each other, never let two in at once."""
    name = ".".join(str(p) for p in parts)
    await db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key(name)})


def make_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def value_enum(cls: type[StrEnum], name: str, schema: str) -> Enum:
    """A PostgreSQL enum type `schema.name` of the members' values (what the API and the events say), not their names."""
    return Enum(cls, name=name, schema=schema, values_callable=lambda e: [m.value for m in e])


async def get_or_raise(session: AsyncSession, model: Any, key: Any, problem: Exception, **options: Any) -> Any:
    """The row of `model` with primary key `key` (`options` as for `session.get`, e.g. with_for_update), or raise `problem`."""
    row = await session.get(model, key, **options)
    if row is None:
        raise problem
    return row


async def upsert(session: AsyncSession, model: Any, values: dict[str, Any], *, key: Sequence[Any], update: Sequence[str]) -> Any:
    """INSERT `values` into `model`'s table, or where a row with the same `key` columns (a unique
    constraint) exists, UPDATE its `update` columns; the row as stored now, in the session."""
    from sqlalchemy.dialects.postgresql import insert

    stmt = insert(model).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=list(key), set_={k: stmt.excluded[k] for k in update}).returning(model)
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one()


def declarative_base(schema: str) -> type[DeclarativeBase]:
    """A declarative base whose tables live in `schema`, with the project's constraint names."""

    class Base(DeclarativeBase):
        metadata = make_metadata(schema)

    Base.__name__ = f"{schema.title()}Base"
    event.listen(Base, "before_insert", _utc_times, propagate=True)
    event.listen(Base, "before_update", _utc_times, propagate=True)
    return Base


@lru_cache(maxsize=None)
def _aware_time_keys(mapper: Mapper) -> tuple[str, ...]:
    return tuple(mapper.get_property_by_column(c).key for c in mapper.columns
                 if isinstance(c.type, DateTime) and c.type.timezone)


def _utc_times(mapper: Mapper, connection: Any, target: Any) -> None:
    """A row's aware times in UTC as it is written, as the database gives them back: a row
    answered from memory right after a write ("+08:00" as a client sent it) reads the same as on
    every later read ("Z")."""
    for key in _aware_time_keys(mapper):
        value = target.__dict__.get(key)
        if isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() != timedelta(0):
            setattr(target, key, value.astimezone(UTC))


def async_url(url: str) -> str:
    """Normalise any PostgreSQL URL to the asyncpg driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> tuple[str, dict]:
    """A DSN and connect kwargs for a raw asyncpg connection (used by the LISTEN connection)."""
    parsed = make_url(async_url(url))
    kwargs: dict = {
        "user": parsed.username,
        "password": parsed.password,
        "database": parsed.database,
        "port": parsed.port,
    }
    host = parsed.host or parsed.query.get("host")
    if isinstance(host, tuple):
        host = host[0]
    kwargs["host"] = host
    # TLS options ride in the query string (`?ssl=require`, or libpq's `sslmode`).
    ssl = parsed.query.get("ssl") or parsed.query.get("sslmode")
    if isinstance(ssl, tuple):
        ssl = ssl[0]
    if ssl and ssl != "disable":
        kwargs["ssl"] = ssl
    return "", {k: v for k, v in kwargs.items() if v is not None}


def resolve_database_url(settings: BaseServiceSettings | None = None) -> str:
    """The URL to use: the configured one, or the embedded server's (started if needed); by
    default, of the environment's settings (what `sprout` commands use)."""
    settings = settings or BaseServiceSettings()
    if settings.database_url:
        return async_url(settings.database_url)
    from shared.embedded import ensure_embedded

    return ensure_embedded(settings.pgdata)


def create_engine(url: str, settings: BaseServiceSettings | None = None, **kwargs) -> AsyncEngine:
    options = {
        "pool_size": settings.database_pool_size if settings else 5,
        "max_overflow": settings.database_max_overflow if settings else 5,
    }
    options.update(kwargs)
    return create_async_engine(async_url(url), **options)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# ---------------------------------------------------------------- transactions that begin at the first write

# Marks a session (its info) whose reads run outside a transaction, and a pooled connection
# (its record's info) doing so right now.
_DEFERRED = "sprout_begin_at_first_write"

_PLAIN_SELECT = re.compile(r"\s*(?:/\*.*?\*/\s*)*SELECT\b", re.IGNORECASE | re.DOTALL)
_NOT_ONLY_READING = re.compile(
    r"\bFOR\s+(?:NO\s+KEY\s+)?UPDATE\b|\bFOR\s+(?:KEY\s+)?SHARE\b|\bINTO\b"
    r"|\b(?:pg_advisory\w*|pg_try_advisory\w*|pg_notify|nextval|setval|set_config|lo_\w+)\s*\(",
    re.IGNORECASE,
)


@lru_cache(maxsize=2048)
def only_reads(statement: str) -> bool:
    """Whether `statement` reads and nothing else, so it may run outside the transaction."""
    return _PLAIN_SELECT.match(statement) is not None and _NOT_ONLY_READING.search(statement) is None


def begin_at_first_write(session: AsyncSession) -> None:
    """Run `session`'s reads outside a transaction until it first writes (the module docstring says why that is safe)."""
    session.sync_session.info[_DEFERRED] = True


@event.listens_for(Session, "after_begin")
def _defer_begin(session: Session, transaction, connection) -> None:
    if not session.info.get(_DEFERRED):
        return
    dbapi = connection.connection.dbapi_connection
    # asyncpg's adapter sends BEGIN before the first statement unless it is in autocommit;
    # a connection already in autocommit (configured so) is left as it is.
    if dbapi is None or getattr(dbapi, "autocommit", True):
        return
    dbapi.autocommit = True
    connection.info[_DEFERRED] = True


@event.listens_for(Engine, "before_cursor_execute")
def _begin_before_writing(conn, cursor, statement: str, parameters, context, executemany: bool) -> None:
    if not conn.info.get(_DEFERRED) or only_reads(statement):
        return
    # The adapter now sends BEGIN ahead of this statement; the rest of the request runs in it.
    del conn.info[_DEFERRED]
    conn.connection.dbapi_connection.autocommit = False


@event.listens_for(Pool, "checkin")
def _end_deferral(dbapi_connection, connection_record) -> None:
    # A read-only request hands its connection back still in autocommit; the next user of the
    # pool (a consumer, a migration) expects the driver to begin transactions again.
    if connection_record.info.pop(_DEFERRED, None) and dbapi_connection is not None:
        dbapi_connection.autocommit = False


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Opens the request's session; commits when the handler returns, rolls back if it raises.

    Its reads run outside a transaction until its first write (module docstring), so a
    handler that only read commits nothing: COMMIT and ROLLBACK cost no round trip then.
    """
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with factory() as session:
        begin_at_first_write(session)
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# scope="function": commit before the response is sent, so a failed commit is an error response.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
