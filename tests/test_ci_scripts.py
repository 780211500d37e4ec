""".ci/streaming-replica: private servers, so overlapping runs can share a machine."""

import os
import subprocess
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "streaming-replica"
SERVERS = ("STREAMING_PRIMARY_URL", "STREAMING_REPLICA_URL", "STREAMING_LAGGING_REPLICA_URL")


def streaming_replica(action: str, **env: str) -> subprocess.CompletedProcess[str]:
    variables = {
        key: value for key, value in os.environ.items() if not key.startswith("STREAMING_")
    }
    return subprocess.run(
        ["bash", str(SCRIPT), action],
        env={**variables, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def started() -> Generator[dict[str, str]]:
    result = streaming_replica("start")
    if result.returncode != 0 and "no PostgreSQL server binaries" in result.stderr:
        pytest.skip("no PostgreSQL server binaries")
    assert result.returncode == 0, result.stderr
    assignments = dict(line.split("=", 1) for line in result.stdout.splitlines())
    try:
        yield assignments
    finally:
        streaming_replica("stop", STREAMING_BASE=assignments["STREAMING_BASE"])


@pytest.fixture
def first() -> Iterator[dict[str, str]]:
    yield from started()


@pytest.fixture
def second() -> Iterator[dict[str, str]]:
    yield from started()


def psql(url: str, sql: str) -> str:
    result = subprocess.run(
        ["psql", url, "-tAc", sql], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_two_runs_get_their_own_servers(first: dict[str, str], second: dict[str, str]) -> None:
    assert first["STREAMING_BASE"] != second["STREAMING_BASE"]
    urls = [run[name] for run in (first, second) for name in SERVERS]
    assert len(set(urls)) == len(urls)
    for run in (first, second):
        assert psql(run["STREAMING_PRIMARY_URL"], "SELECT pg_is_in_recovery()") == "f"
        assert psql(run["STREAMING_REPLICA_URL"], "SELECT pg_is_in_recovery()") == "t"
        lagging = run["STREAMING_LAGGING_REPLICA_URL"]
        assert psql(lagging, "SHOW recovery_min_apply_delay") == "2s"


def test_stop_deletes_everything() -> None:
    runs = started()
    base = Path(next(runs)["STREAMING_BASE"])
    assert (base / "primary").is_dir()
    runs.close()
    assert not base.exists()


def test_a_directory_that_is_not_ours_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine\n")
    result = streaming_replica("start", STREAMING_BASE=str(tmp_path))
    assert result.returncode != 0
    assert "not ours" in result.stderr
    assert streaming_replica("stop", STREAMING_BASE=str(tmp_path)).returncode == 0
    assert (tmp_path / "keep.txt").read_text() == "mine\n"
