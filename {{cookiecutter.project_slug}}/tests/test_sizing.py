"""README's sizing rule ("Running in production") holds for the default settings."""

import re
from pathlib import Path

from {{ cookiecutter.package_name }}.settings import Settings

WORKERS = 2
# PostgreSQL's defaults, used unless compose.yaml's server sets its own.
DEFAULT_MAX_CONNECTIONS = 100
SUPERUSER_RESERVED_CONNECTIONS = 3
COMPOSE = Path(__file__).resolve().parent.parent / "compose.yaml"
# The engines each worker opens a pool on.
ROLES = [
    "primary",
{% if cookiecutter.use_replica %}
    "replica",
{% endif %}
{% if cookiecutter.use_analytics_db %}
    "analytics",
{% endif %}
]


def max_connections() -> int:
    """The compose PostgreSQL's `-c max_connections=N`, else PostgreSQL's default."""
    if COMPOSE.exists():
        match = re.search(r"max_connections=(\d+)", COMPOSE.read_text(encoding="utf-8"))
        if match:
            return int(match[1])
    return DEFAULT_MAX_CONNECTIONS


def connections_per_worker(pool_size: int, max_overflow: int) -> int:
    pools = len(ROLES) * (pool_size + max_overflow)
    # With standbys, one check connection per standby and one on the primary.
    checks = len(ROLES) if len(ROLES) > 1 else 0
    # A readiness probe opens one connection per role, outside the pools.
    probes = len(ROLES)
    return pools + checks + probes


def test_two_workers_with_the_default_pool_fit_under_max_connections() -> None:
    fields = Settings.model_fields
    per_worker = connections_per_worker(
        fields["db_pool_size"].default, fields["db_max_overflow"].default
    )
    # Non-superusers cannot use the reserved slots; the rest leaves room for psql.
    assert WORKERS * per_worker < max_connections() - SUPERUSER_RESERVED_CONNECTIONS
