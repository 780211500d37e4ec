"""Command line of the benchmark (benchmarks/README.md says what it measures and how).

    .venv/bin/python -m benchmarks run --bakes defaults,all --concurrency 8,64,256 \
        --rounds 3 --duration 10 [--million] [--json results.json]
"""

import argparse
import sys
from pathlib import Path

from .runner import REFERENCES, SCENARIOS, Config, parse_bakes, parse_variant, run


def csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def integers(value: str) -> list[int]:
    return [int(item) for item in csv(value)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("run", help="bake, serve, load and report")
    command.add_argument(
        "--bakes",
        type=csv,
        default=["defaults", "all"],
        help="projects to bake: defaults, all, or switch names joined by + "
        "(e.g. cache+replica); default: defaults,all",
    )
    command.add_argument(
        "--references",
        type=csv,
        default=list(REFERENCES),
        help=f"reference apps to serve alongside; default: {','.join(REFERENCES)}",
    )
    command.add_argument(
        "--scenarios",
        type=csv,
        default=list(SCENARIOS),
        help=f"requests to measure; default: {','.join(SCENARIOS)}",
    )
    command.add_argument("--concurrency", type=integers, default=[8, 64, 256])
    command.add_argument("--rounds", type=int, default=3)
    command.add_argument("--duration", type=int, default=10, help="seconds per run")
    command.add_argument("--users", type=int, default=10_000, help="users seeded per database")
    command.add_argument(
        "--million",
        action="store_true",
        help="also page through 1,000,000 users (seeded once, kept for later runs)",
    )
    command.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL:NAME=VALUE[,NAME=VALUE...]",
        help="also serve the first bake with these environment variables, under LABEL "
        "(e.g. pool20:DB_POOL_SIZE=20,DB_MAX_OVERFLOW=0); repeatable",
    )
    command.add_argument("--json", type=Path, help="also write the results here")
    command.add_argument("--workdir", type=Path, default=Path(".benchmarks"))
    command.add_argument("--database-server", default="postgresql://postgres@127.0.0.1:5432")
    command.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    arguments = parser.parse_args(argv)

    unknown = set(arguments.scenarios) - set(SCENARIOS)
    unknown |= set(arguments.references) - set(REFERENCES)
    if unknown:
        parser.error(f"unknown scenario or reference: {', '.join(sorted(unknown))}")
    try:
        bakes = parse_bakes(arguments.bakes)
        variants = [parse_variant(variant) for variant in arguments.variant]
    except ValueError as error:
        parser.error(str(error))
    config = Config(
        bakes=bakes,
        references=arguments.references,
        scenarios=arguments.scenarios,
        concurrency=arguments.concurrency,
        rounds=arguments.rounds,
        duration=arguments.duration,
        users=arguments.users,
        million=arguments.million,
        variants=variants,
        json_path=arguments.json,
        workdir=arguments.workdir.resolve(),
        database_server=arguments.database_server.rstrip("/"),
        redis_url=arguments.redis_url,
    )
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
