{% import "switches.jinja" as switches with context %}
"""Settings read from the environment (and a `.env` file when present)."""

import re
from functools import lru_cache
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
{% if cookiecutter.use_auth %}
    BeforeValidator,
{% endif %}
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
{% if cookiecutter.use_auth %}
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
{% else %}
from pydantic_settings import BaseSettings, SettingsConfigDict
{% endif %}
from sqlalchemy import URL, make_url
from sqlalchemy.exc import ArgumentError

ASYNC_DRIVER = "postgresql+asyncpg"
_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg"}
{% if cookiecutter.use_replica %}
# A comma followed by a URL's scheme: where one URL of a list ends.
_URL_SEPARATOR = re.compile(r",\s*(?=[A-Za-z][A-Za-z0-9+.-]*://)")
{% endif %}

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
# The largest BULK_MAX_USERS accepted (what the API schema documents as the bound).
BULK_MAX_USERS_CEILING = 10_000
# libpq URL parameters (as providers hand them out) that asyncpg understands too.
LIBPQ_PARAMETERS = frozenset(
    {
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslcrl",
        "sslpassword",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "target_session_attrs",
    }
)


# scheme://[user[:password]@]hosts[/database][?query]; as in `make_url`, a password holds
# no "@" (but may hold "/" or ","), and the hosts end at the first "/" or "?".
_AUTHORITY = re.compile(r"(?P<scheme>[^:/]+)://(?P<user>[^:/@]*(?::[^@]*)?@)?(?P<hosts>[^/?]*)")
DEFAULT_PORT = "5432"


def _hosts_in_query(raw: str) -> str:
    """libpq's multi-host form (`postgresql://u@h1:5432,h2:5433/db`, as Patroni and managed
    services hand out a primary), which `make_url` cannot read, in SQLAlchemy's
    (`postgresql://u@/db?host=h1:5432&host=h2:5433`); any other URL as it is."""
    match = _AUTHORITY.match(raw)
    if match is None or "," not in match["hosts"]:
        return raw
    database, _, query = raw[match.end() :].removeprefix("/").partition("?")
    pairs = [f"host={host}" for host in match["hosts"].split(",")]
    if query:
        pairs.append(query)
    return f"{match['scheme']}://{match['user'] or ''}/{database}?{'&'.join(pairs)}"


def _with_ports(url: URL) -> URL:
    """A URL whose `host=` entries each name a host and a port (5432 where none is given:
    the driver takes all or none); never the entries' text in an error (a mistyped URL can
    put a password there)."""
    hosts = url.query.get("host", ())
    if isinstance(hosts, str) or not hosts:
        return url
    named = []
    for number, host in enumerate(hosts, 1):
        if host.startswith("["):
            raise ValueError(
                f"host {number} of the list: IPv6 addresses cannot be listed; use a name"
            )
        name, _, port = host.partition(":")
        port = port or DEFAULT_PORT
        if not name or not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"host {number} of the list is not a host name with an optional port")
        named.append(f"{name}:{port}")
    return url.update_query_dict({"host": named})


def _usable(url: URL) -> None:
    """The driver's dialect reads the URL as it will when an engine is made."""
    try:
        url.get_dialect()().create_connect_args(url)
    except Exception as error:  # its message may quote the URL
        raise ValueError(f"cannot be used ({type(error).__name__})") from None


def to_async_url(raw: str) -> URL:
    """Parse a `postgres://`, `postgresql://` or asyncpg URL into an asyncpg URL; several
    hosts in either form (libpq's `h1:5432,h2:5432` or `?host=h1:5432&host=h2:5432`)."""
    # `from None`: SQLAlchemy's message would show the URL, password included.
    try:
        url = make_url(_hosts_in_query(raw))
    except ArgumentError:
        raise ValueError("is not a database URL") from None
    except ValueError:  # a port that is not a number
        raise ValueError("is not a database URL") from None
    if url.drivername not in _POSTGRES_SCHEMES:
        raise ValueError(f"scheme {url.drivername!r} is not a PostgreSQL scheme")
    for name in url.query:
        if name not in LIBPQ_PARAMETERS and name != "host":
            raise ValueError(
                f"URL parameter {name!r} is not supported; use one of {sorted(LIBPQ_PARAMETERS)}"
            )
    if url.query.get("sslmode", "disable") not in get_args(SslMode):
        raise ValueError(f"sslmode must be one of {list(get_args(SslMode))}")
    url = _with_ports(url).set(drivername=ASYNC_DRIVER)
    _usable(url)
    return url


def read_write(url: URL) -> URL:
    """`url`, asking for the read-write server where it lists several hosts and says
    nothing about it: a new connection must find the primary, never a standby."""
    if isinstance(url.query.get("host"), tuple) and "target_session_attrs" not in url.query:
        return url.update_query_dict({"target_session_attrs": "read-write"})
    return url


def _public_base_url(value: str) -> str:
    """An http(s) URL naming a server and optionally a path prefix, kept without its
    trailing slash."""
    problem = "must be an http(s) URL such as https://api.example.com"
    if not value.isascii() or not value.isprintable() or " " in value:
        raise ValueError(f"{problem} (ASCII only, a host name in punycode)")
    try:
        url = urlsplit(value)
        # Reading the port raises for one that is not a number in range.
        host, _port = url.hostname, url.port
    except ValueError:
        raise ValueError(problem) from None
    if url.scheme not in ("http", "https") or not host:
        raise ValueError(problem)
    if url.username is not None or url.password is not None:
        raise ValueError(f"{problem}, without a user name or password")
    if url.query or url.fragment or value.endswith(("?", "#")):
        raise ValueError(f"{problem}, without a query or fragment")
    return value.rstrip("/")


# Where clients reach the service; see `Settings.public_base_url`.
PublicBaseUrl = Annotated[str, AfterValidator(_public_base_url)]
{% if cookiecutter.use_auth %}

# The shortest key accepted for signing access tokens (HS256: RFC 7518 asks for 256 bits).
SECRET_KEY_MIN_LENGTH = 32


def _long_enough(key: SecretStr) -> SecretStr:
    if len(key.get_secret_value()) < SECRET_KEY_MIN_LENGTH:
        raise ValueError(
            f"must be at least {SECRET_KEY_MIN_LENGTH} characters (`openssl rand -hex 32`)"
        )
    return key


SecretKey = Annotated[SecretStr, AfterValidator(_long_enough)]


def _comma_separated(value: object) -> object:
    """A list from the environment's `key1,key2` (empty: none)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value
{% endif %}


{% if cookiecutter.use_replica %}
def split_urls(raw: str) -> list[str]:
    """Database URLs separated by commas; a comma inside one (libpq's several hosts,
    `postgresql://u@h1,h2/db`) does not split it: only one before a scheme does."""
    return [part.strip() for part in _URL_SEPARATOR.split(raw) if part.strip()]


{% endif %}
{% if cookiecutter.use_analytics_db %}
def optional_async_url(value: SecretStr | None) -> URL | None:
    return None if value is None else to_async_url(value.get_secret_value())


{% endif %}
class Settings(BaseSettings):
    # hide_input_in_errors: a rejected URL must not print its password.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    # Primary database; postgres:// and postgresql:// are turned into asyncpg URLs.
    database_url: SecretStr = SecretStr("postgresql://postgres@localhost:5432/postgres")
    # An explicit asyncpg URL for the application; overrides DATABASE_URL when set.
    async_database_url: SecretStr | None = None
{% if cookiecutter.use_replica %}
    # Read replica for reads that tolerate lag; unset or unreachable: reads use the primary.
    replica_database_url: SecretStr | None = None
    # More replicas, separated by commas: reads are spread over every one fit to serve.
    replica_database_urls: SecretStr | None = None
{% endif %}
{% if cookiecutter.use_analytics_db %}
    # Database for reporting queries; unset or unreachable: replica, then primary.
    analytics_database_url: SecretStr | None = None
{% endif %}
{% if switches.standbys %}
    # A standby further behind the primary than this is skipped (reads go to the primary).
    replica_max_lag_seconds: float = Field(default=5.0, ge=0)
    # How often each standby's reachability and lag are checked, off the request path.
    replica_check_interval_seconds: float = Field(default=0.5, gt=0)
{% endif %}

    # Pool defaults: a fixed set of connections, no check per checkout (README, "Connection
    # pool", has the measurements behind each).
    db_pool_size: int = Field(default=10, ge=1)
    # Extra connections under load; each is opened for one request and closed after it.
    db_max_overflow: int = Field(default=0, ge=0)
    # Seconds to wait for a free connection before giving up.
    db_pool_timeout: float = Field(default=30.0, gt=0)
    # Seconds after which a pooled connection is replaced; -1 keeps them forever.
    db_pool_recycle: int = Field(default=1800, ge=-1)
    # Test each connection with a round trip before handing it out.
    db_pool_pre_ping: bool = False
    # Hand out the most recently used connection first (lets surplus ones sit idle).
    db_pool_use_lifo: bool = False
    # Seconds to wait for a new connection to the server.
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_echo: bool = False
    db_echo_pool: bool = False
    # TLS mode; overrides `sslmode=` in the URLs. Neither set: no TLS is attempted.
    db_ssl_mode: SslMode | None = None
    # Behind PgBouncer in transaction mode: no prepared-statement caching.
    db_pgbouncer: bool = False

    # Alembic's database: the server itself when the app goes through PgBouncer; unset: the app's.
    migration_database_url: SecretStr | None = None
    # Seconds a migration waits for a table lock (0: no limit); meanwhile queries on it queue up.
    migration_lock_timeout: float = Field(default=5.0, ge=0)
    # Server-side limits in seconds, 0 for none: a statement's run time, a wait for a lock,
    # a transaction left idle. Behind PgBouncer, set them with ALTER ROLE (README).
    db_statement_timeout: float = Field(default=30.0, ge=0)
    db_lock_timeout: float = Field(default=10.0, ge=0)
    db_idle_in_transaction_timeout: float = Field(default=60.0, ge=0)
    # Most users one POST /users/bulk may create.
    bulk_max_users: int = Field(default=100, ge=1, le=BULK_MAX_USERS_CEILING)
    # GET /users/stats counts every user: at most once in this many seconds per process,
    # the answers in between are that count (`Age` says how old). 0: count every time.
    stats_max_age_seconds: float = Field(default=60.0, ge=0)
    # Threads hashing passwords; the rest of the process keeps its CPU share.
    password_hash_workers: int = Field(default=2, ge=1)
    # Largest request body in bytes; a larger one is refused (413) before it is read.
    max_request_body_bytes: int = Field(default=1_048_576, ge=1)
    # Seconds a request body may stall between two of its pieces before a 408.
    request_body_timeout_seconds: float = Field(default=10.0, gt=0)
    # How long the answer to a POST sent with an `Idempotency-Key` is kept for its repeats.
    idempotency_ttl_seconds: int = Field(default=86_400, ge=1)
    # Where clients reach the service (`https://api.example.com`, a path prefix allowed);
    # unset: `Location` and `Link` are relative. Never taken from the Host header.
    public_base_url: PublicBaseUrl | None = None

{% if cookiecutter.use_cache %}
    # Redis for the cache; while it is down the service answers from the database.
    redis_url: SecretStr = SecretStr("redis://localhost:6379/0")
    # REDIS_URL names a node of a Redis Cluster: the cache uses the cluster client.
    redis_cluster: bool = False
    # How long a cached entry lives; it is also dropped on every write to its row.
    cache_ttl_seconds: int = Field(default=300, ge=1)
    # Namespace of this service's keys in a shared Redis; no braces (keys are hash-tagged).
    cache_key_prefix: str = Field(
        default="{{ cookiecutter.package_name }}",
        min_length=1,
        pattern=r"^[^{}]+$",
    )
    # Seconds to wait for Redis before treating it as down.
    redis_timeout_seconds: float = Field(default=0.5, gt=0)
    # Connections to Redis per worker; more requests at once wait for one in turn.
    redis_max_connections: int = Field(default=128, ge=1)

{% endif %}
{% if cookiecutter.use_auth %}
    # Signs the access tokens; the app refuses to start without it (Alembic and scripts
    # do not need it).
    auth_secret_key: SecretKey | None = None
    # Keys that signed tokens before the current one, comma-separated: still accepted
    # (never used to sign) until the tokens they signed expire (README, Authentication).
    auth_previous_secret_keys: Annotated[
        list[SecretKey], NoDecode, BeforeValidator(_comma_separated)
    ] = []
    # How long an access token is valid, in seconds.
    auth_token_ttl_seconds: int = Field(default=900, ge=1)

{% endif %}
    # Argon2id cost (OWASP's minimum: 2 passes over 19 MiB, 1 lane); lower it only in tests.
    password_hash_time_cost: int = Field(default=2, ge=1)
    password_hash_memory_cost: int = Field(default=19456, ge=8)
    password_hash_parallelism: int = Field(default=1, ge=1)

    @field_validator(
        "database_url",
        "async_database_url",
        "migration_database_url",
{% if cookiecutter.use_replica %}
        "replica_database_url",
{% endif %}
{% if cookiecutter.use_analytics_db %}
        "analytics_database_url",
{% endif %}
    )
    @classmethod
    def _must_be_postgres(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            to_async_url(value.get_secret_value())
        return value

    @property
    def primary_url(self) -> URL:
        """The asyncpg URL of the primary database."""
        explicit = self.async_database_url or self.database_url
        return read_write(to_async_url(explicit.get_secret_value()))

    @property
    def migration_url(self) -> URL:
        """The asyncpg URL Alembic runs on: MIGRATION_DATABASE_URL, else the primary's."""
        if self.migration_database_url is None:
            return self.primary_url
        return read_write(to_async_url(self.migration_database_url.get_secret_value()))
{% if cookiecutter.use_replica %}

    @field_validator("replica_database_urls")
    @classmethod
    def _each_must_be_postgres(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            for number, raw in enumerate(split_urls(value.get_secret_value()), 1):
                try:
                    to_async_url(raw)
                except ValueError as error:
                    raise ValueError(f"URL {number}: {error}") from None
        return value

    @property
    def replica_urls(self) -> list[URL]:
        """Every replica: REPLICA_DATABASE_URL, then REPLICA_DATABASE_URLS in their order."""
        urls = [self.replica_database_url] if self.replica_database_url is not None else []
        listed = self.replica_database_urls
        raws = [url.get_secret_value() for url in urls]
        raws += split_urls(listed.get_secret_value()) if listed is not None else []
        return [to_async_url(raw) for raw in raws]
{% endif %}
{% if cookiecutter.use_analytics_db %}

    @property
    def analytics_url(self) -> URL | None:
        return optional_async_url(self.analytics_database_url)
{% endif %}


class SettingsError(Exception):
    """The environment holds a setting that cannot be used; the message is one line."""


def describe(error: ValidationError) -> str:
    """One line naming each bad variable and why (never its value)."""
    problems = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper()
        problems.append(f"{name}: {item['msg'].removeprefix('Value error, ')}")
    return "invalid settings: " + "; ".join(problems)


@lru_cache
def get_settings() -> Settings:
    """The settings from the environment, read once."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe(error)) from None
