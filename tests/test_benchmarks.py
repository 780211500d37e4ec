"""The benchmark command runs end to end in a seconds-long smoke mode.

Its numbers are for people (benchmarks/README.md): nothing here asserts a speed. Needs
PostgreSQL on 127.0.0.1:5432, the package index (it installs a baked project) and wrk.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

TEMPLATE_DIR = Path(__file__).resolve().parent.parent


def test_a_smoke_run_prints_the_table_and_writes_the_json(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    results = tmp_path / "results.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "run",
        "--bakes=defaults",
        "--references=orm",
        "--scenarios=get,keyset_last,create_user",
        "--concurrency=4",
        "--rounds=1",
        "--duration=1",
        "--users=300",
        f"--workdir={tmp_path / 'work'}",
        f"--json={results}",
    ]

    result = subprocess.run(
        command, cwd=TEMPLATE_DIR, capture_output=True, text=True, check=False, timeout=1200
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "| request | c | app | req/s | x ORM |" in result.stdout
    rows = json.loads(results.read_text())["results"]
    assert {(row["scenario"], row["app"]) for row in rows} == {
        (scenario, app)
        for scenario in ("get", "keyset_last", "create_user")
        for app in ("defaults", "orm")
    }
    # Every request answered with a 2xx: the apps served what the scripts asked for.
    assert all(row["rps"] > 0 and row["non2xx"] == row["socket_errors"] == 0 for row in rows)
