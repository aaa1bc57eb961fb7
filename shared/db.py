"""The database: one async engine per process, one session and one transaction per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import MetaData
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from shared.settings import BaseServiceSettings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def declarative_base(schema: str) -> type[DeclarativeBase]:
    """A declarative base whose tables live in `schema`, with the project's constraint names."""

    class Base(DeclarativeBase):
        metadata = make_metadata(schema)

    Base.__name__ = f"{schema.title()}Base"
    return Base


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


def resolve_database_url(settings: BaseServiceSettings) -> str:
    """The URL to use: the configured one, or the embedded server's (started if needed)."""
    if settings.database_url:
        return async_url(settings.database_url)
    from shared.embedded import ensure_embedded

    return ensure_embedded(settings.pgdata)


def create_engine(url: str, settings: BaseServiceSettings | None = None, **kwargs) -> AsyncEngine:
    options = {
        "pool_size": settings.database_pool_size if settings else 5,
        "max_overflow": settings.database_max_overflow if settings else 5,
        "pool_pre_ping": True,
    }
    options.update(kwargs)
    return create_async_engine(async_url(url), **options)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Opens the request's session; commits when the handler returns, rolls back if it raises."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# scope="function": commit before the response is sent, so a failed commit is an error response.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
