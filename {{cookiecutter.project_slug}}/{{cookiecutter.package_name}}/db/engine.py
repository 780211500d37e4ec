"""Engine construction from settings."""

from typing import Any
from uuid import uuid4

from sqlalchemy import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..settings import Settings


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid4()}__"


def connect_args(settings: Settings) -> dict[str, Any]:
    """asyncpg connection arguments derived from settings."""
    args: dict[str, Any] = {"timeout": settings.db_connect_timeout}
    if settings.db_ssl_mode is not None:
        args["ssl"] = settings.db_ssl_mode
    if settings.db_pgbouncer:
        # Transaction pooling hands each transaction a different server connection:
        # cached or named prepared statements would point at the wrong one.
        args["statement_cache_size"] = 0
        args["prepared_statement_cache_size"] = 0
        args["prepared_statement_name_func"] = _unique_statement_name
    return args


def pool_options(settings: Settings) -> dict[str, Any]:
    """Pool and logging options for `create_engine`, from settings."""
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "pool_recycle": settings.db_pool_recycle,
        "pool_pre_ping": settings.db_pool_pre_ping,
        "pool_use_lifo": settings.db_pool_use_lifo,
        "echo": settings.db_echo,
        "echo_pool": settings.db_echo_pool,
    }


def create_engine(url: URL, settings: Settings) -> AsyncEngine:
    """An asyncpg engine with the pool configured from settings (no connection is made)."""
    return create_async_engine(url, connect_args=connect_args(settings), **pool_options(settings))
