"""Pool policy behind PgBouncer in transaction mode: the app's pooled engine against
NullPool (a new connection to PgBouncer per transaction), side by side.

    DATABASE_URL=postgresql://app@pgbouncer:6432/app DB_PGBOUNCER=true \\
        python -m scripts.pgbouncer_benchmark [--rounds N] [--seconds S] [--concurrency C]
        [--statement-cache]

DATABASE_URL names a migrated database through PgBouncer. Each round runs every variant
for S seconds with C concurrent tasks, one after the other in rotating order (so a noisy
machine affects all alike); a task's unit is what `GET /users/{id}` does: a transaction
with one SELECT by primary key. Prints transactions per second per round, then medians of
throughput and of this process's CPU time per transaction (steadier on a shared machine),
each with its ratio to the pooled engine, and errors counted by type.
`--statement-cache` adds the pooled engine with asyncpg's prepared-statement cache on,
which only PgBouncer 1.21+ with `max_prepared_statements` set supports.
"""

import argparse
import asyncio
import statistics
import time
from collections import Counter
from itertools import count

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from {{ cookiecutter.package_name }}.db.engine import connect_args, create_engine, pool_options
from {{ cookiecutter.package_name }}.db.session import create_sessionmaker
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.settings import Settings

ROLE = "benchmark"


def engines(settings: Settings, statement_cache: bool) -> dict[str, AsyncEngine]:
    variants = {
        "pooled": create_engine(settings.primary_url, settings, role=ROLE),
        "NullPool": create_engine(settings.primary_url, settings, role=ROLE, pooled=False),
    }
    if statement_cache:
        args = connect_args(settings, role=ROLE)
        for name in ("statement_cache_size", "prepared_statement_cache_size"):
            args.pop(name)
        args.setdefault("ssl", "disable")
        variants["pooled, statement cache"] = create_async_engine(
            settings.primary_url, connect_args=args, **pool_options(settings)
        )
    return variants


async def load(
    engine: AsyncEngine, seconds: float, concurrency: int
) -> tuple[int, float, Counter[str]]:
    """Transactions completed in `seconds` by `concurrency` tasks, the CPU seconds this
    process spent on them, and errors by type."""
    sessions = create_sessionmaker(engine)
    ids = count(1)
    errors: Counter[str] = Counter()
    done = 0
    cpu = time.process_time()
    deadline = time.perf_counter() + seconds

    async def task() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            try:
                async with sessions() as session, session.begin():
                    await session.scalar(select(User).where(User.id == next(ids) % 1000 + 1))
                done += 1
            except Exception as error:
                errors[type(error).__name__] += 1

    await asyncio.gather(*(task() for _ in range(concurrency)))
    return done, time.process_time() - cpu, errors


async def run(rounds: int, seconds: float, concurrency: int, statement_cache: bool) -> None:
    settings = Settings()
    if not settings.db_pgbouncer:
        raise SystemExit("pgbouncer_benchmark: set DB_PGBOUNCER=true, DATABASE_URL to PgBouncer")
    variants = engines(settings, statement_cache)
    rates: dict[str, list[float]] = {name: [] for name in variants}
    cpu_per_transaction: dict[str, list[float]] = {name: [] for name in variants}
    errors: dict[str, Counter[str]] = {name: Counter() for name in variants}
    names = list(variants)
    try:
        for name in names:  # warm up: connections, type introspection, compiled SQL
            await load(variants[name], min(seconds, 0.5), concurrency)
        for round_number in range(rounds):
            order = names[round_number % len(names) :] + names[: round_number % len(names)]
            for name in order:
                done, cpu, failed = await load(variants[name], seconds, concurrency)
                rates[name].append(done / seconds)
                cpu_per_transaction[name].append(cpu / max(done, 1))
                errors[name] += failed
            print(
                f"round {round_number + 1}: "
                + ", ".join(f"{name} {rates[name][-1]:.0f}/s" for name in names),
                flush=True,
            )
    finally:
        for engine in variants.values():
            await engine.dispose()
    base = statistics.median(rates["pooled"])
    base_cpu = statistics.median(cpu_per_transaction["pooled"])
    print(f"medians of {rounds} rounds, {concurrency} concurrent (ratios to pooled):")
    for name in names:
        rate = statistics.median(rates[name])
        cpu = statistics.median(cpu_per_transaction[name])
        kinds = ", ".join(f"{kind} x{n}" for kind, n in errors[name].items()) or "none"
        print(
            f"  {name:<24} {rate:6.0f} tx/s ({rate / base:.2f})"
            f"  {cpu * 1000:5.2f} ms CPU/tx ({cpu / base_cpu:.2f})  errors: {kinds}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--statement-cache", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(
        run(arguments.rounds, arguments.seconds, arguments.concurrency, arguments.statement_cache)
    )


if __name__ == "__main__":
    main()
