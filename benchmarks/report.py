"""Medians over rounds, ratios to the reference apps, and the markdown table."""

import statistics
from collections import defaultdict
from typing import Any

BULK = 100
# The references answer a cache hit's request with their plain GET.
REFERENCE_SCENARIO = {"get_cached": "get"}
RATIO_REFERENCES = ("orm", "asyncpg")


def summarise(
    records: list[dict[str, Any]], apps: dict[str, dict[str, Any]], config: dict[str, Any]
) -> dict[str, Any]:
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[(record["scenario"], record["concurrency"], record["app"])].append(record)
    rows = []
    for (scenario, concurrency, app), runs in groups.items():
        hit_ratios = [run["cache_hit_ratio"] for run in runs if run["cache_hit_ratio"] is not None]
        rows.append(
            {
                "scenario": scenario,
                "concurrency": concurrency,
                "app": app,
                "rounds": len(runs),
                "rps": statistics.median(run["rps"] for run in runs),
                "p50_ms": statistics.median(run["p50_ms"] for run in runs),
                "p99_ms": statistics.median(run["p99_ms"] for run in runs),
                "non2xx": sum(run["non2xx"] for run in runs),
                "socket_errors": sum(run["socket_errors"] for run in runs),
                "cpu_ms_per_request": statistics.median(run["cpu_ms_per_request"] for run in runs),
                "cache_hit_ratio": statistics.median(hit_ratios) if hit_ratios else None,
            }
        )
    by_key = {(row["scenario"], row["concurrency"], row["app"]): row for row in rows}
    for row in rows:
        reference_scenario = REFERENCE_SCENARIO.get(row["scenario"], row["scenario"])
        for reference in RATIO_REFERENCES:
            base = by_key.get((reference_scenario, row["concurrency"], reference))
            row[f"x_{reference}"] = row["rps"] / base["rps"] if base and base["rps"] else None
    for name, facts in apps.items():
        facts["peak_rss_mib"] = max(
            (record["peak_rss_mib"] for record in records if record["app"] == name), default=None
        )
    return {"config": config, "apps": apps, "results": rows, "runs": records}


def number(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def markdown(results: dict[str, Any], scenarios: dict[str, str]) -> str:
    config = results["config"]
    order = list(scenarios)
    rows = sorted(
        results["results"],
        key=lambda row: (order.index(row["scenario"]), row["concurrency"], row["app"]),
    )
    lines = [
        f"Benchmark {config['date']}, commit {config['commit']}, {config['cpus']} CPUs: "
        f"medians of {config['rounds']} rounds x {config['duration_seconds']:g} s, "
        f"{config['users']:,} users; uvicorn 1 worker (uvloop, httptools), wrk -t1.",
        f"Command: `{config['command']}`",
        "",
        "| request | c | app | req/s | x ORM | x asyncpg | p50 ms | p99 ms | non-2xx "
        "| socket errors | CPU ms/req | cache hits |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        hits = row["cache_hit_ratio"]
        lines.append(
            f"| {scenarios[row['scenario']]} | {row['concurrency']} | {row['app']} "
            f"| {number(row['rps'])} | {ratio(row['x_orm'])} | {ratio(row['x_asyncpg'])} "
            f"| {number(row['p50_ms'], 1)} | {number(row['p99_ms'], 1)} | {row['non2xx']} "
            f"| {row['socket_errors']} | {number(row['cpu_ms_per_request'], 2)} "
            f"| {'—' if hits is None else f'{hits:.0%}'} |"
        )
    lines += ["", "| app | startup to first answer, s | peak RSS, MiB |", "|---|--:|--:|"]
    for name, facts in results["apps"].items():
        startup, rss = number(facts["startup_seconds"], 2), number(facts["peak_rss_mib"])
        lines.append(f"| {name} | {startup} | {rss} |")
    return "\n".join(lines)
