"""Unit tests of the hooks, imported as plain modules (no cookiecutter run)."""

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from hooks import post_gen_project, pre_gen_project
from hooks.post_gen_project import (
    FEATURE_PATHS,
    SKIP_LOCK_VARIABLE,
    find_python,
    finish,
    is_cruft_rerun,
    next_steps,
    remove_disabled,
    write_lock,
)
from hooks.pre_gen_project import (
    PYTHON_VERSIONS,
    SWITCHES,
    TAKEN_IMPORT_NAMES,
    forget_replay,
    option_value,
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
    (error,) = validate({**default_context, name: value})
    assert error.startswith(f"{name}={value!r} ")
    assert reason in error
    assert "\n" not in error


def test_default_answers_are_valid(default_context: dict[str, Any]) -> None:
    assert validate(default_context) == []


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
    assert validate({**default_context, name: value}) == []


def test_every_bad_answer_is_reported_in_prompt_order(default_context: dict[str, Any]) -> None:
    context = {
        **default_context,
        "use_cache": "yes",
        "author_email": "nobody",
        "project_slug": "My Service",
        "package_name": "class",
    }
    errors = validate(context)
    assert [error.split("=")[0] for error in errors] == [
        "project_slug",
        "package_name",
        "author_email",
        "use_cache",
    ]


def test_python_versions_are_the_choices_of_cookiecutter_json(template_dir: Path) -> None:
    variables = json.loads((template_dir / "cookiecutter.json").read_text(encoding="utf-8"))
    assert variables["python_version"] == list(PYTHON_VERSIONS)


@pytest.mark.parametrize(
    ("args", "value"),
    [
        (["cookiecutter", "--config-file", "c.yaml", "t"], "c.yaml"),
        (["cookiecutter", "--config-file=c.yaml", "t"], "c.yaml"),
        (["cookiecutter", "t"], None),
        (["cookiecutter", "t", "--config-file"], None),
    ],
)
def test_option_value(args: list[str], value: str | None) -> None:
    assert option_value(args, "--config-file") == value


@pytest.fixture
def replay_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, default_context: dict[str, Any]
) -> tuple[dict[str, Any], Path]:
    """Answers as cookiecutter hands them to the hook, its replay file and command line."""
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"replay_dir": str(tmp_path / "replay")}), encoding="utf-8")
    context = {**default_context, "_repo_dir": str(tmp_path / "template")}
    replay = tmp_path / "replay" / "template.json"
    replay.parent.mkdir()
    replay.write_text(json.dumps({"cookiecutter": context, "_cookiecutter": {}}))
    command = (["cookiecutter", "--config-file", "config.yaml", "template"], tmp_path)
    monkeypatch.setattr(pre_gen_project, "parent_command", lambda: command)
    return context, replay


def test_forget_replay_deletes_the_replay_of_these_answers(
    replay_run: tuple[dict[str, Any], Path],
) -> None:
    context, replay = replay_run
    forget_replay(context)
    assert not replay.exists()


def test_forget_replay_keeps_the_replay_of_other_answers(
    replay_run: tuple[dict[str, Any], Path],
) -> None:
    context, replay = replay_run
    forget_replay({**context, "project_name": "Other"})
    assert replay.exists()


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
@pytest.mark.parametrize("uv", [False, True], ids=["pip", "uv"])
def test_next_steps(
    default_context: dict[str, Any], tmp_path: Path, use_docker: bool, uv: bool
) -> None:
    context = {**default_context, "use_docker": use_docker, "python_version": "3.13"}
    text = next_steps(context, tmp_path / "my service", "python3.13", uv=uv, locked=uv)

    assert f"cd '{tmp_path / 'my service'}'" in text
    # With uv, `uv sync` makes .venv from uv.lock (and finds or fetches a Python for it).
    assert ("python3.13 -m venv .venv" in text) is not uv
    assert ("pip install -e '.[dev]'" in text) is not uv
    assert ("uv sync --extra dev" in text) is uv
    assert ". .venv/bin/activate" in text
    assert ("docker compose up -d" in text) is use_docker
    # Also with compose: Docker or its compose plugin may be missing.
    assert "createdb -h localhost -U postgres my_service" in text
    assert "Running without Docker" in text
    # cruft update needs a git repository with the project committed.
    assert "git init" in text
    assert "alembic upgrade head" in text
    assert f"uvicorn {default_context['package_name']}.main:app --reload" in text


@pytest.mark.parametrize("use_auth", [True, False])
def test_next_steps_give_a_secret_key_only_with_authentication(
    default_context: dict[str, Any], tmp_path: Path, use_auth: bool
) -> None:
    text = next_steps({**default_context, "use_auth": use_auth}, tmp_path, "python3")
    assert ('echo "AUTH_SECRET_KEY=$(openssl rand -hex 32)" >> .env' in text) is use_auth
    # Written after .env exists, before the app starts.
    if use_auth:
        assert (
            text.index("cp .env.example .env")
            < text.index("AUTH_SECRET_KEY")
            < text.index("uvicorn")
        )


def test_next_steps_say_how_to_take_template_updates(
    default_context: dict[str, Any], tmp_path: Path
) -> None:
    context = {**default_context, "_template": "gh:org/template"}
    plain = next_steps(context, tmp_path, "python3")
    with_cruft = next_steps({**context, "_commit": "abc123"}, tmp_path, "python3")

    # Made with cookiecutter: how to link it, with the answers it was made with.
    assert "cruft link --no-input --extra-context" in plain
    assert "gh:org/template" in plain
    assert '"use_soft_delete": false' in plain
    assert "cruft update" in with_cruft
    assert "cruft link" not in with_cruft


def test_next_steps_without_a_suitable_python(
    default_context: dict[str, Any], tmp_path: Path
) -> None:
    context = {**default_context, "python_version": "3.14"}
    text = next_steps(context, tmp_path, None)
    assert "python3 -m venv .venv   # needs Python 3.14 or newer: none found on PATH" in text


def test_next_steps_without_uv_say_how_to_get_the_lock(
    default_context: dict[str, Any], tmp_path: Path
) -> None:
    text = next_steps(default_context, tmp_path, "python3")
    assert "No uv on PATH, so no uv.lock" in text
    assert "`pipx install uv` or `pip install uv`" in text
    assert "run `uv lock` in the project" in text


@pytest.mark.parametrize(("locked", "effect"), [(True, "installs exactly"), (False, "writes")])
def test_next_steps_with_uv_say_what_uv_sync_does_to_the_lock(
    default_context: dict[str, Any], tmp_path: Path, locked: bool, effect: str
) -> None:
    text = next_steps(default_context, tmp_path, None, uv=True, locked=locked)
    (line,) = [line for line in text.splitlines() if "uv sync" in line]
    assert effect in line
    assert "none found on PATH" not in text
    assert "No uv on PATH" not in text


# The uv the template's tests install (`.[test]`), next to this interpreter.
UV = Path(sys.executable).with_name("uv")
# A project with no dependencies: uv locks it offline, in well under a second.
SMALL_PYPROJECT = """[project]
name = "small"
version = "0.1.0"
requires-python = ">={python}"
dependencies = []
"""


@pytest.fixture
def small_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory uv can lock offline; uv on PATH, no lock skipped."""
    root = tmp_path / "small"
    root.mkdir()
    (root / "pyproject.toml").write_text(SMALL_PYPROJECT.format(python="3.11"), encoding="utf-8")
    monkeypatch.setenv("PATH", f"{UV.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv(SKIP_LOCK_VARIABLE, raising=False)
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    return root


def test_write_lock_writes_uv_lock(small_project: Path) -> None:
    assert write_lock(str(UV), small_project) is None
    assert 'name = "small"' in (small_project / "uv.lock").read_text(encoding="utf-8")


def test_write_lock_says_why_it_failed_in_one_line(small_project: Path) -> None:
    # What a machine without the Python the project asks for gets (uv would download one).
    pyproject = small_project / "pyproject.toml"
    pyproject.write_text(SMALL_PYPROJECT.format(python="3.99"), encoding="utf-8")

    problem = write_lock(str(UV), small_project)

    assert problem is not None
    assert problem.startswith("uv lock failed (No interpreter found for Python >=3.99")
    assert "\n" not in problem
    assert not (small_project / "uv.lock").exists()


def test_write_lock_without_a_working_uv(small_project: Path) -> None:
    problem = write_lock(str(small_project / "no-such-uv"), small_project)
    assert problem is not None
    assert problem.startswith("uv lock did not start")


def test_finish_writes_the_lock_and_prints_uv_steps(
    default_context: dict[str, Any], small_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    finish(default_context, small_project)
    lock = (small_project / "uv.lock").read_text(encoding="utf-8")
    first = capsys.readouterr().out
    assert "uv sync --extra dev           # installs exactly what uv.lock pins" in first
    assert "pip install" not in first

    # Idempotent: a second run leaves the same lock and says the same.
    finish(default_context, small_project)
    assert (small_project / "uv.lock").read_text(encoding="utf-8") == lock
    assert capsys.readouterr().out == first


def test_finish_carries_on_when_the_lock_fails(
    default_context: dict[str, Any], small_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject = small_project / "pyproject.toml"
    pyproject.write_text(SMALL_PYPROJECT.format(python="3.99"), encoding="utf-8")

    finish(default_context, small_project)

    first, *rest = capsys.readouterr().out.splitlines()
    assert first.startswith("uv lock failed (No interpreter found for Python >=3.99")
    assert first.endswith("; run `uv lock` in the project to write uv.lock.")
    assert rest[0] == "Created My Service. Next steps:"
    assert "    uv sync --extra dev           # writes uv.lock, installs it" in rest


def test_finish_without_uv_prints_pip_steps_and_how_to_lock(
    default_context: dict[str, Any],
    small_project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = small_project.parent / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    finish(default_context, small_project)

    assert not (small_project / "uv.lock").exists()
    out = capsys.readouterr().out
    assert "pip install -e '.[dev]'" in out
    assert "`pipx install uv` or `pip install uv`" in out


@pytest.mark.parametrize(("value", "locks"), [("1", False), ("true", False), ("0", True)])
def test_skip_uv_lock_variable(
    default_context: dict[str, Any],
    small_project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str,
    locks: bool,
) -> None:
    monkeypatch.setenv(SKIP_LOCK_VARIABLE, value)
    finish(default_context, small_project)
    assert (small_project / "uv.lock").exists() is locks
    # uv is still there: `uv sync` writes the lock the hook did not.
    assert "uv sync --extra dev" in capsys.readouterr().out


def test_cruft_rerun_writes_no_lock_and_prints_nothing(
    default_context: dict[str, Any], small_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cruft_context = {**default_context, "_commit": "0" * 40}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "my-service"
        root.mkdir()
        (root / "pyproject.toml").write_text(
            (small_project / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8"
        )
        finish(cruft_context, root)
        assert not (root / "uv.lock").exists()
    assert capsys.readouterr().out == ""


def fake_python(directory: Path, name: str, version: str) -> None:
    script = directory / name
    script.write_text(f"#!/bin/sh\necho {version.replace('.', ' ')}\n", encoding="utf-8")
    script.chmod(0o755)


@pytest.mark.parametrize(
    ("on_path", "minimum", "found"),
    [
        ({"python3": "3.13"}, "3.11", "python3"),
        ({"python3": "3.13"}, "3.13", "python3"),
        ({"python3": "3.11", "python3.12": "3.12"}, "3.12", "python3.12"),
        ({"python3": "3.11", "python3.14": "3.14"}, "3.12", "python3.14"),
        ({"python3": "3.11", "python3.11": "3.11"}, "3.12", None),
        ({}, "3.11", None),
    ],
)
def test_find_python(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    on_path: dict[str, str],
    minimum: str,
    found: str | None,
) -> None:
    for name, version in on_path.items():
        fake_python(tmp_path, name, version)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_python(minimum) == found


def test_find_python_skips_an_interpreter_that_does_not_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "python3"
    broken.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    broken.chmod(0o755)
    fake_python(tmp_path, "python3.12", "3.12")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_python("3.11") == "python3.12"


def test_cruft_rerun_in_a_scratch_directory_is_recognised(
    default_context: dict[str, Any], tmp_path: Path
) -> None:
    # cruft update, diff and check regenerate the project in tempfile.TemporaryDirectory().
    cruft_context = {**default_context, "_commit": "0" * 40}
    with tempfile.TemporaryDirectory() as scratch:
        assert is_cruft_rerun(cruft_context, Path(scratch) / "my-service")
        assert not is_cruft_rerun(default_context, Path(scratch) / "my-service")
    # cruft create writes where the user asked, in a temporary directory or not.
    assert not is_cruft_rerun(cruft_context, tmp_path / "my-service")
    assert not is_cruft_rerun(cruft_context, Path.home() / "projects" / "my-service")


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
