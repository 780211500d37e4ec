"""The service as deployed at scale: migrated by `scripts/migrate` over
MIGRATION_DATABASE_URL (the server itself), served by `scripts/serve` (the image's
command) with 2 worker processes, every database URL through a private PgBouncer in
transaction mode with DB_PGBOUNCER=true. The contract holds, then a burst of concurrent
requests spread over both workers gets no error.

Skipped without the `pgbouncer` binary (the template's CI installs it and fails on this
skip).
"""

import asyncio
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import URL

from {{ cookiecutter.package_name }}.settings import Settings
{% if cookiecutter.use_auth %}
from tests.auth.superuser import make_superuser
{% endif %}
from tests.conftest import PROJECT_ROOT, DatabaseServer, process_environment, uvicorn
from tests.factories import user_payload
from tests.pgbouncer import PgBouncer, pgbouncer
from tests.test_server import check_contract

WORKERS = 2
# Each engine role's URL setting, all pointed at PgBouncer (one alias per role, one database).
ROLE_SETTINGS = {"primary": "database_url"} | {
    role: f"{role}_database_url"
    for role in ("replica", "analytics")
    if f"{role}_database_url" in Settings.model_fields
}
BURST_REQUESTS = 300
BURST_CONCURRENCY = 16


@dataclass(frozen=True)
class Deployment:
    base_url: str
    bouncer: PgBouncer
    stderr: Path


def render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
async def deployment(
    server: DatabaseServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    direct = await server.create("bounced_{{ cookiecutter.package_name }}")
    assert direct.database is not None
    stderr = tmp_path_factory.mktemp("pgbouncer") / "uvicorn.log"
    try:
        async with pgbouncer(server.url, dict.fromkeys(ROLE_SETTINGS, direct.database)) as bouncer:
            env = {name.upper(): render(bouncer.url(role)) for role, name in ROLE_SETTINGS.items()}
            env |= {
                "DB_PGBOUNCER": "true",
                "MIGRATION_DATABASE_URL": render(direct),
                "WEB_CONCURRENCY": str(WORKERS),
            }
            migrate = await asyncio.to_thread(
                subprocess.run,
                [PROJECT_ROOT / "scripts" / "migrate"],
                env=process_environment(env),
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            assert migrate.returncode == 0, migrate.stderr
{% if cookiecutter.use_auth %}
            # On the server itself, like Alembic: PgBouncer sees only the app.
            await make_superuser(direct)
{% endif %}
            # Alembic went to the server itself: PgBouncer has not seen a client yet.
            assert bouncer.logins() == set()
            async with uvicorn(bouncer.url("primary"), stderr, env=env) as base:
                yield Deployment(base, bouncer, stderr)
    finally:
        await server.drop(direct)


async def test_the_contract_and_a_burst_hold_through_pgbouncer_with_two_workers(
    deployment: Deployment,
) -> None:
    # The contract first: it counts users on a fresh database.
    requests = await check_contract(deployment.base_url)
    statuses = await burst(deployment.base_url)

    assert statuses == {200: BURST_REQUESTS * 4 // 5, 201: BURST_REQUESTS // 5}
    log = deployment.stderr.read_text(encoding="utf-8")
    assert log.count("Started server process") == WORKERS, log
    assert deployment.bouncer.logins() == set(ROLE_SETTINGS)
    assert deployment.bouncer.problems() == []
    print(
        f"through PgBouncer, {WORKERS} workers: contract {requests} requests; burst "
        f"{BURST_REQUESTS} requests, {BURST_CONCURRENCY} at a time: {dict(statuses)}"
    )


async def burst(base_url: str) -> Counter[int]:
    """Statuses of BURST_REQUESTS reads and writes, BURST_CONCURRENCY at a time."""
    statuses: Counter[int] = Counter()
    # No keep-alive: every request a new connection, which either worker may accept.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits) as http:
        created = await http.post("/users", json=user_payload())
        assert created.status_code == 201, created.text
        uid = created.json()["id"]
        paths = [f"/users/{uid}", "/users?limit=10", "/users/stats", "/users/post-counts"]
        pending = iter(range(BURST_REQUESTS))

        async def client() -> None:
            for n in pending:
                if n % 5 == 0:
                    response = await http.post("/users", json=user_payload())
                else:
                    response = await http.get(paths[n % len(paths)])
                statuses[response.status_code] += 1

        await asyncio.gather(*(client() for _ in range(BURST_CONCURRENCY)))
    return statuses


async def test_the_pool_benchmark_runs_through_pgbouncer(deployment: Deployment) -> None:
    # Its numbers are for people (README, "Running in production"); it reads, never writes.
    env = {"DATABASE_URL": render(deployment.bouncer.url("primary")), "DB_PGBOUNCER": "true"}
    command = [sys.executable, "-m", "scripts.pgbouncer_benchmark", "--rounds", "1"]
    result = await asyncio.to_thread(
        subprocess.run,
        [*command, "--seconds", "0.2", "--concurrency", "2"],
        cwd=PROJECT_ROOT,
        env=process_environment(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.count("errors: none") == 2, result.stdout
