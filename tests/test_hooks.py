"""Unit tests of the hooks, imported as plain modules (no cookiecutter run)."""

import json
from pathlib import Path
from typing import Any

import pytest

from hooks import post_gen_project
from hooks.post_gen_project import FEATURE_PATHS, next_steps, remove_disabled
from hooks.pre_gen_project import (
    PYTHON_VERSIONS,
    SWITCHES,
    TAKEN_IMPORT_NAMES,
    validate,
)

NOT_A_BOOL = ("true", "yes", 1, 0, None)

# (variable, bad value, what the message says about it)
BAD_ANSWERS: list[tuple[str, Any, str]] = [
    ("project_name", "", "must not be empty"),
    ("project_name", "   ", "must not be empty"),
    ("project_name", "My\nService", "one line of printable text"),
    ("project_name", "My\tService", "one line of printable text"),
    ("project_name", 'My "Service"', "double quote or a backslash"),
    ("project_name", "My\\Service", "double quote or a backslash"),
    ("project_slug", "", "joined by single hyphens"),
    ("project_slug", "My-Service", "joined by single hyphens"),
    ("project_slug", "my service", "joined by single hyphens"),
    ("project_slug", "my--service", "joined by single hyphens"),
    ("project_slug", "-my-service", "joined by single hyphens"),
    ("project_slug", "my-service-", "joined by single hyphens"),
    ("project_slug", "my_service", "joined by single hyphens"),
    ("project_slug", "1service", "joined by single hyphens"),
    ("project_slug", "my/service", "joined by single hyphens"),
    ("package_name", "", "not a lowercase Python identifier"),
    ("package_name", "my-service", "not a lowercase Python identifier"),
    ("package_name", "1service", "not a lowercase Python identifier"),
    ("package_name", "MyService", "not a lowercase Python identifier"),
    ("package_name", "my.service", "not a lowercase Python identifier"),
    ("package_name", "class", "is a Python keyword"),
    ("package_name", "import", "is a Python keyword"),
    ("package_name", "match", "is a Python keyword"),
    ("package_name", "json", "standard-library module json"),
    ("package_name", "logging", "standard-library module logging"),
    ("description", "two\nlines", "one line of printable text"),
    ("author_name", "Ada\nLovelace", "one line of printable text"),
    ("author_email", "", "does not look like an email address"),
    ("author_email", "nobody", "does not look like an email address"),
    ("author_email", "nobody@localhost", "does not look like an email address"),
    ("author_email", "no body@example.com", "does not look like an email address"),
    ("author_email", 'a"b@example.com', "does not look like an email address"),
    ("python_version", "3.10", "is not supported"),
    ("python_version", "3.15", "is not supported"),
    ("python_version", "3", "is not supported"),
    ("python_version", 3.12, "is not supported"),
    *[("package_name", name, "would shadow a package") for name in sorted(TAKEN_IMPORT_NAMES)],
    *[(switch, value, "must be true or false") for switch in SWITCHES for value in NOT_A_BOOL],
]


def answer_id(answer: tuple[str, Any, str]) -> str:
    name, value, _ = answer
    return f"{name}={value!r}"


@pytest.mark.parametrize("answer", BAD_ANSWERS, ids=answer_id)
def test_bad_answer_is_named_in_one_line(
    default_context: dict[str, Any], answer: tuple[str, Any, str]
) -> None:
    name, value, reason = answer
    error = validate({**default_context, name: value})
    assert error is not None
    assert error.startswith(f"{name}={value!r} ")
    assert reason in error
    assert "\n" not in error


def test_default_answers_are_valid(default_context: dict[str, Any]) -> None:
    assert validate(default_context) is None


GOOD_ANSWERS: list[tuple[str, Any]] = [
    ("project_name", "Billing Service (v2) — ünïcode"),
    ("project_slug", "a"),
    ("project_slug", "billing-service-2"),
    ("project_slug", "a1-b2-c3"),
    ("package_name", "billing_service_2"),
    ("package_name", "_private"),
    ("description", ""),
    ("author_email", "first.last+tag@mail.example.co.uk"),
    *[("python_version", version) for version in PYTHON_VERSIONS],
    *[(switch, value) for switch in SWITCHES for value in (True, False)],
]


@pytest.mark.parametrize(("name", "value"), GOOD_ANSWERS)
def test_good_answer_passes(default_context: dict[str, Any], name: str, value: Any) -> None:
    assert validate({**default_context, name: value}) is None


def test_first_bad_answer_in_prompt_order_is_reported(default_context: dict[str, Any]) -> None:
    context = {**default_context, "author_email": "nobody", "project_slug": "My Service"}
    error = validate(context)
    assert error is not None
    assert error.startswith("project_slug=")


def test_switches_are_the_boolean_variables_of_cookiecutter_json(template_dir: Path) -> None:
    variables = json.loads((template_dir / "cookiecutter.json").read_text(encoding="utf-8"))
    booleans = [name for name, value in variables.items() if isinstance(value, bool)]
    assert booleans == list(SWITCHES)


def test_feature_paths_belong_to_switches_and_stay_inside_the_project() -> None:
    for switch, paths in FEATURE_PATHS.items():
        assert switch in SWITCHES
        for relative in paths:
            path = Path(relative)
            assert not path.is_absolute(), relative
            assert ".." not in path.parts, relative


@pytest.fixture
def fake_feature_paths(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A map with a file, a directory and a nested path, independent of the real one."""
    paths = {"use_a": ["a.txt", "a_dir"], "use_b": ["{package_name}/b.txt"]}
    monkeypatch.setattr(post_gen_project, "FEATURE_PATHS", paths)
    return paths


def make_project(root: Path) -> None:
    (root / "a_dir" / "sub").mkdir(parents=True)
    (root / "a_dir" / "sub" / "inner.txt").write_text("a\n")
    (root / "a.txt").write_text("a\n")
    (root / "nested").mkdir()
    (root / "nested" / "b.txt").write_text("b\n")
    (root / "nested" / "kept.txt").write_text("kept\n")
    (root / "kept.txt").write_text("kept\n")


def tree(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*")}


@pytest.mark.usefixtures("fake_feature_paths")
@pytest.mark.parametrize(
    ("switches", "expected_removed"),
    [
        ({"use_a": True, "use_b": True}, set()),
        ({"use_a": False, "use_b": True}, {"a.txt", "a_dir"}),
        ({"use_a": True, "use_b": False}, {"nested/b.txt"}),
        ({"use_a": False, "use_b": False}, {"a.txt", "a_dir", "nested/b.txt"}),
    ],
)
def test_remove_disabled_removes_exactly_the_mapped_paths(
    tmp_path: Path, switches: dict[str, bool], expected_removed: set[str]
) -> None:
    make_project(tmp_path)
    before = tree(tmp_path)

    removed = remove_disabled({**switches, "package_name": "nested"}, tmp_path)

    assert {path.relative_to(tmp_path).as_posix() for path in removed} == expected_removed
    gone = {
        name
        for name in before
        if any(name == path or name.startswith(f"{path}/") for path in expected_removed)
    }
    assert tree(tmp_path) == before - gone


@pytest.mark.usefixtures("fake_feature_paths")
def test_remove_disabled_is_idempotent(tmp_path: Path) -> None:
    make_project(tmp_path)
    switches = {"use_a": False, "use_b": False, "package_name": "nested"}
    remove_disabled(switches, tmp_path)
    after_first = tree(tmp_path)

    assert remove_disabled(switches, tmp_path) == []
    assert tree(tmp_path) == after_first == {"kept.txt", "nested", "nested/kept.txt"}


def test_remove_disabled_on_the_real_map_tolerates_missing_paths(tmp_path: Path) -> None:
    all_off = {**dict.fromkeys(FEATURE_PATHS, False), "package_name": "pkg"}
    assert remove_disabled(all_off, tmp_path) == []
    assert tree(tmp_path) == set()


@pytest.mark.parametrize("use_docker", [True, False])
def test_next_steps(default_context: dict[str, Any], tmp_path: Path, use_docker: bool) -> None:
    context = {**default_context, "use_docker": use_docker, "python_version": "3.13"}
    text = next_steps(context, tmp_path / "my service")

    assert f"cd '{tmp_path / 'my service'}'" in text
    assert "python3.13 -m venv .venv" in text
    assert "pip install -e '.[dev]'" in text
    assert ("docker compose up -d" in text) is use_docker
    assert "alembic upgrade head" in text
    assert f"uvicorn {default_context['package_name']}.main:app --reload" in text


def test_a_path_shared_by_two_switches_stays_while_either_is_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(
        post_gen_project, "FEATURE_PATHS", {"use_a": ["shared.txt"], "use_b": ["shared.txt"]}
    )
    (tmp_path / "shared.txt").write_text("x\n")

    assert remove_disabled({"use_a": True, "use_b": False, "package_name": "p"}, tmp_path) == []
    assert remove_disabled({"use_a": False, "use_b": True, "package_name": "p"}, tmp_path) == []
    assert (tmp_path / "shared.txt").exists()
    removed = remove_disabled({"use_a": False, "use_b": False, "package_name": "p"}, tmp_path)
    assert removed == [tmp_path / "shared.txt"]
