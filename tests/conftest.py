"""Fixtures shared by the template's tests."""

import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from _pytest.nodeid import NodeId
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

from hooks.post_gen_project import SKIP_LOCK_VARIABLE
from tests.test_generated_project import create_venv

TEMPLATE_DIR = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """No `uv lock` in the hundreds of bakes (a resolution against the index each), on
    any machine, uv on PATH or not: the post-generation hook skips it under SKIP_UV_LOCK,
    which every bake and subprocess inherits from here (each xdist worker runs this too).
    tests/test_locked_install.py unsets it for the one bake that locks."""
    os.environ[SKIP_LOCK_VARIABLE] = "1"


@pytest.fixture(scope="session")
def template_dir() -> Path:
    return TEMPLATE_DIR


@pytest.fixture
def default_context() -> dict[str, Any]:
    """The answers `cookiecutter --no-input` gives, derived values (slug, package) rendered."""
    context = generate_context(context_file=str(TEMPLATE_DIR / "cookiecutter.json"))
    return dict(prompt_for_config(context, no_input=True))


@pytest.fixture(scope="session")
def venv(
    tmp_path_factory: pytest.TempPathFactory, cookies_session: Any
) -> tuple[Path, dict[str, str]]:
    """One virtualenv per worker for the integration tests that install a project (its
    python and environment); here so that every test module shares the one instance."""
    return create_venv(tmp_path_factory, cookies_session)


# Per check (a test function over all its parameters): how many ran and the time they took
# (setup, call and teardown summed over the workers), printed after the run.
CHECK_RUNS: Counter[str] = Counter()
CHECK_SECONDS: defaultdict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    check = report.nodeid.split("[")[0]
    if report.when == "call" or (report.when == "setup" and report.skipped):
        CHECK_RUNS[check] += 1
    CHECK_SECONDS[check] += report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CHECK_RUNS:
        return
    terminalreporter.section("combinations and time per check")
    terminalreporter.write_line(
        "runs x seconds (setup, call and teardown, summed over the workers)"
    )
    for check in sorted(CHECK_RUNS):
        terminalreporter.write_line(
            f"{CHECK_RUNS[check]:5d} x {CHECK_SECONDS[check]:8.1f} s  {check}"
        )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--dist loadgroup` as pytest-xdist means it: a test marked `xdist_group(name)` gets
    `@name` at the end of its node id, which sends the group to one worker.

    pytest-xdist 3.8 sets `item._nodeid` for that, which pytest 9.2 no longer reads (node
    ids live in `item._id`), so without this every group is silently split over the
    workers. A no-op once xdist has added the suffix itself.
    """
    # The integration tests first: each takes a minute or two and half of it waits on
    # servers, so the short checks fill the workers around them instead of one of them
    # running alone at the end (.ci/run passes --no-loadscope-reorder, which keeps this
    # order; xdist would otherwise put the biggest groups first).
    items.sort(key=lambda item: item.get_closest_marker("integration") is None)
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted({str(mark.args[0]) for mark in item.iter_markers("xdist_group")})
        if names and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")
