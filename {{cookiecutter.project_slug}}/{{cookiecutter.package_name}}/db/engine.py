"""Engine construction from settings."""

import logging
from typing import Any
from urllib.parse import urlencode
from uuid import uuid4

from sqlalchemy import URL, event
from sqlalchemy.engine.interfaces import ConnectArgsType, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from ..settings import LIBPQ_PARAMETERS, Settings
from .errors import watch_errors
from .readonly import TRANSACTION_POOLING

# Names connections in pg_stat_activity as "<package>:<role>".
_APPLICATION = __name__.partition(".")[0]
# The client gives up on a command this long after the server should have cancelled it.
_COMMAND_TIMEOUT_MARGIN_SECONDS = 2.0


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid4()}__"


def _milliseconds(seconds: float) -> str:
    return str(round(seconds * 1000))


def connect_args(settings: Settings, *, role: str) -> dict[str, Any]:
    """asyncpg connection arguments derived from settings, for the engine of `role`."""
    server_settings = {"application_name": f"{_APPLICATION}:{role}"}
    if not settings.db_pgbouncer:
        # PgBouncer refuses these startup parameters; behind it they are set per role
        # (ALTER ROLE ... SET, see the README).
        server_settings |= {
            "statement_timeout": _milliseconds(settings.db_statement_timeout),
            "lock_timeout": _milliseconds(settings.db_lock_timeout),
            "idle_in_transaction_session_timeout": _milliseconds(
                settings.db_idle_in_transaction_timeout
            ),
        }
    args: dict[str, Any] = {
        "timeout": settings.db_connect_timeout,
        "server_settings": server_settings,
    }
    if settings.db_statement_timeout:
        # A frozen or partitioned server cannot cancel anything: the client stops waiting.
        args["command_timeout"] = settings.db_statement_timeout + _COMMAND_TIMEOUT_MARGIN_SECONDS
    if settings.db_ssl_mode is not None:
        args["ssl"] = settings.db_ssl_mode
    if settings.db_pgbouncer:
        # Transaction pooling hands each transaction a different server connection:
        # cached or named prepared statements would point at the wrong one.
        args["statement_cache_size"] = 0
        args["prepared_statement_cache_size"] = 0
        args["prepared_statement_name_func"] = _unique_statement_name
    return args


def _libpq_parameters(
    dialect: Dialect, record: ConnectionPoolEntry, cargs: ConnectArgsType, cparams: dict[str, Any]
) -> None:
    """Hand libpq URL parameters (`?sslmode=require&sslrootcert=...`) to asyncpg's DSN
    parser, which understands them, instead of passing them as unknown keywords."""
    names = [name for name in cparams if name in LIBPQ_PARAMETERS]
    libpq = {name: cparams.pop(name) for name in names}
    if libpq:
        cparams["dsn"] = "postgresql://?" + urlencode(libpq)
    if "ssl" not in cparams and "sslmode" not in libpq:
        # asyncpg would otherwise try TLS first (sslmode=prefer): a round trip per connect.
        cparams["ssl"] = "disable"


def log_sql(settings: Settings) -> None:
    """DB_ECHO and DB_ECHO_POOL as the levels of SQLAlchemy's loggers, so its lines go
    through the process's one handler (`logs.py`), once each and in LOG_FORMAT; an
    engine's `echo=True` would add a handler of its own (every line twice, one of them
    plain text). The pool's INFO lines ("Pool disposed", "Pool recreating": two at each
    failed check of a server that is down) stay off without DB_ECHO_POOL, whatever the
    `sqlalchemy` logger's level."""
    logging.getLogger("sqlalchemy.engine").setLevel(
        logging.INFO if settings.db_echo else logging.WARNING
    )
    logging.getLogger("sqlalchemy.pool").setLevel(
        logging.DEBUG if settings.db_echo_pool else logging.WARNING
    )


def pool_options(settings: Settings) -> dict[str, Any]:
    """Pool options for `create_engine`, from settings."""
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "pool_recycle": settings.db_pool_recycle,
        "pool_pre_ping": settings.db_pool_pre_ping,
        "pool_use_lifo": settings.db_pool_use_lifo,
        # Logged SQL (DB_ECHO) and error messages show SQL, never the values (hashes, emails).
        "hide_parameters": True,
    }


def create_engine(url: URL, settings: Settings, *, role: str, pooled: bool = True) -> AsyncEngine:
    """An asyncpg engine for `role` ("primary", "replica", ...); no connection is made.

    `pooled=False` opens a connection per use (for migrations and scripts).
    """
    options = pool_options(settings) if pooled else {"poolclass": NullPool, "hide_parameters": True}
    return _engine(url, settings, role=role, options=options)


def create_check_engine(url: URL, settings: Settings, *, role: str, timeout: float) -> AsyncEngine:
    """One connection to the server at `url`, kept open, for the checks that are not a
    request's (standby monitors, readiness, the position after a commit): the one
    connection per server the connection budget allows besides the request pool.
    A checkout waits `timeout` at most.
    """
    options: dict[str, Any] = {
        "pool_size": 1,
        "max_overflow": 0,
        "pool_timeout": timeout,
        "pool_recycle": settings.db_pool_recycle,
        "hide_parameters": True,
    }
    if not settings.db_pgbouncer:
        # No BEGIN and ROLLBACK around each check (behind PgBouncer: see `db.readonly`).
        options["isolation_level"] = "AUTOCOMMIT"
    return _engine(url, settings, role=role, options=options)


def _engine(url: URL, settings: Settings, *, role: str, options: dict[str, Any]) -> AsyncEngine:
    if settings.db_pgbouncer:
        # Read sessions keep their transactions there (see `db.readonly`).
        options["execution_options"] = {TRANSACTION_POOLING: True}
    log_sql(settings)
    engine = create_async_engine(url, connect_args=connect_args(settings, role=role), **options)
    event.listen(engine.sync_engine, "do_connect", _libpq_parameters)
    watch_errors(engine, writable=role == "primary")
    return engine
