"""Sets of switch combinations the template's tests bake, derived from cookiecutter.json."""

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from hooks.pre_gen_project import PYTHON_VERSIONS, SWITCHES

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
ANSWERS: dict[str, Any] = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
DEFAULTS: dict[str, bool] = {name: value for name, value in ANSWERS.items() if name in SWITCHES}
# The Python version --no-input picks: the first of the choice, the oldest.
OLDEST_PYTHON = ANSWERS["python_version"][0]
assert PYTHON_VERSIONS[0] == OLDEST_PYTHON

# Switches that only add files no Python tool reads (tests/test_bake.py proves it).
NON_PYTHON_SWITCHES = ("use_docker", "use_github_actions")
PYTHON_SWITCHES = tuple(switch for switch in SWITCHES if switch not in NON_PYTHON_SWITCHES)

Switches = dict[str, Any]


def every_combination(switches: tuple[str, ...]) -> list[Switches]:
    """All 2**n combinations of `switches`, the other switches at their defaults."""
    return [
        {**DEFAULTS, **dict(zip(switches, values, strict=True))}
        for values in itertools.product([False, True], repeat=len(switches))
    ]


def every_combination_of_all_but_one(switches: tuple[str, ...]) -> list[Switches]:
    """Every combination with an even number of `switches` on, and all on: leave out any
    one switch and the others take every combination of their values (the one left out is
    their parity), in half the bakes of `every_combination`. What it gives up is only the
    lines that depend on all n switches at once at an odd count; all on is kept anyway."""
    rows = [row for row in every_combination(switches) if sum(row[s] for s in switches) % 2 == 0]
    all_on = {**DEFAULTS, **dict.fromkeys(switches, True)}
    return rows if all_on in rows else [*rows, all_on]


def every_pair(switches: tuple[str, ...]) -> list[Switches]:
    """All off, each on alone, all on: every pair of switches sees all four value pairs."""
    all_off = {**DEFAULTS, **dict.fromkeys(switches, False)}
    return [
        all_off,
        *[{**all_off, switch: True} for switch in switches],
        {**DEFAULTS, **dict.fromkeys(switches, True)},
    ]


def covers_every_pair(rows: list[Switches], switches: tuple[str, ...]) -> list[tuple[str, str]]:
    """The pairs of `switches` that do not take all four value pairs in `rows`."""
    return [
        (first, second)
        for first, second in itertools.combinations(switches, 2)
        if len({(row.get(first, False), row.get(second, False)) for row in rows}) < 4
    ]


def combination_id(switches: Switches) -> str:
    name = "-".join(
        f"{name.removeprefix('use_')}_{'on' if switches[name] else 'off'}" for name in SWITCHES
    )
    version = switches.get("python_version", OLDEST_PYTHON)
    return name if version == OLDEST_PYTHON else f"{name}-py{version}"


def params(combinations: list[Switches]) -> list[Any]:
    """One param per combination (duplicates dropped), named by `combination_id`, all the
    checks of a combination in one xdist group (one worker, one bake)."""
    unique = {combination_id(switches): switches for switches in combinations}
    return [
        pytest.param(switches, id=name, marks=pytest.mark.xdist_group(name))
        for name, switches in unique.items()
    ]
