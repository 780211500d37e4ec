"""Bake the template with cookiecutter and check what comes out."""

import itertools
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from hooks.post_gen_project import FEATURE_PATHS, feature_paths, paths_to_remove
from hooks.pre_gen_project import PYTHON_VERSIONS, SWITCHES

# Every combination of the switches.
COMBINATIONS = [
    dict(zip(SWITCHES, values, strict=True))
    for values in itertools.product([True, False], repeat=len(SWITCHES))
]

# Jinja left unrendered; `${{ ... }}` is a GitHub Actions expression, not Jinja.
TEMPLATE_RESIDUE = re.compile(r"(?<!\$)\{\{|\{%|\{#|cookiecutter\.\w")


def combination_id(switches: dict[str, bool]) -> str:
    return "-".join(
        f"{name.removeprefix('use_')}_{'on' if value else 'off'}"
        for name, value in switches.items()
    )


def text_files(root: Path) -> dict[Path, str]:
    """Every file under `root` that decodes as UTF-8 (dotfiles included)."""
    texts = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            try:
                texts[path] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
    return texts


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module", params=COMBINATIONS, ids=combination_id)
def baked(request: pytest.FixtureRequest, cookies_session: Any) -> tuple[dict[str, bool], Path]:
    """One project per combination of switches, shared by the checks below."""
    switches: dict[str, bool] = request.param
    result = cookies_session.bake(extra_context=switches)
    assert result.exit_code == 0, result.exception
    project: Path = result.project_path
    return switches, project


def test_default_bake(cookies: Any) -> None:
    result = cookies.bake()

    assert result.exit_code == 0, result.exception
    assert result.exception is None
    assert result.project_path.name == "my-service"
    assert (result.project_path / "my_service" / "main.py").is_file()


def test_no_template_residue(baked: tuple[dict[str, bool], Path]) -> None:
    _, project = baked
    leftovers = [
        f"{path.relative_to(project)}:{number}: {line.strip()}"
        for path, text in text_files(project).items()
        for number, line in enumerate(text.splitlines(), start=1)
        if TEMPLATE_RESIDUE.search(line)
    ]
    leftovers += [
        f"{path.relative_to(project)} (path)"
        for path in project.rglob("*")
        if TEMPLATE_RESIDUE.search(str(path.relative_to(project)))
    ]
    assert leftovers == []


def test_no_blank_line_debris(baked: tuple[dict[str, bool], Path]) -> None:
    _, project = baked
    debris = [
        f"{path.relative_to(project)}:{number}"
        for path, text in text_files(project).items()
        for number, line in enumerate(text.splitlines(), start=1)
        if line and not line.strip()
    ]
    debris += [
        f"{path.relative_to(project)} (three blank lines in a row)"
        for path, text in text_files(project).items()
        if "\n\n\n\n" in text
    ]
    assert debris == []


def test_feature_paths_follow_switches(baked: tuple[dict[str, bool], Path]) -> None:
    switches, project = baked
    answers = {
        **dict.fromkeys(FEATURE_PATHS, False),
        **switches,
        "package_name": project.name.replace("-", "_"),
    }
    removed = set(paths_to_remove(answers))
    every_path = {path for switch in FEATURE_PATHS for path in feature_paths(answers, switch)}
    expected = {path: path not in removed for path in every_path}
    actual = {path: (project / path).exists() for path in every_path}
    assert actual == expected
    # A path is kept exactly when some switch listing it is on.
    for path in every_path:
        owners = [s for s in FEATURE_PATHS if path in feature_paths(answers, s)]
        assert expected[path] == any(switches.get(s, False) for s in owners), path


def test_files_named_in_next_steps_exist(baked: tuple[dict[str, bool], Path]) -> None:
    _, project = baked
    assert (project / ".env.example").is_file()  # cp .env.example .env


def test_ruff_check(baked: tuple[dict[str, bool], Path]) -> None:
    _, project = baked
    result = run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format(baked: tuple[dict[str, bool], Path]) -> None:
    _, project = baked
    result = run([sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."], project)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_requires_python_follows_python_version(cookies: Any, python_version: str) -> None:
    result = cookies.bake(extra_context={"python_version": python_version})
    assert result.exit_code == 0, result.exception

    pyproject = tomllib.loads((result.project_path / "pyproject.toml").read_text("utf-8"))
    assert pyproject["project"]["requires-python"] == f">={python_version}"


@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_ruff_check_for_each_python_version(cookies: Any, python_version: str) -> None:
    # ruff's target follows python_version, and some rules (UP) depend on the target.
    result = cookies.bake(extra_context={"python_version": python_version})
    assert result.exit_code == 0, result.exception

    check = run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], result.project_path)
    assert check.returncode == 0, check.stdout + check.stderr


def test_awkward_text_survives_the_hooks(cookies: Any) -> None:
    # The hooks receive the answers as JSON inside a raw string literal.
    description = 'Say "hi", """twice""", a backslash \\ and <&>'
    result = cookies.bake(extra_context={"description": description})
    assert result.exit_code == 0, result.exception

    pyproject = tomllib.loads((result.project_path / "pyproject.toml").read_text("utf-8"))
    assert pyproject["project"]["description"] == description


def run_cookiecutter(
    template_dir: Path,
    tmp_path: Path,
    *answers: str,
    default_context: dict[str, Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`cookiecutter --no-input` as CI runs it, with a config file kept inside tmp_path."""
    config: dict[str, Any] = {
        "cookiecutters_dir": str(tmp_path / "cookiecutters"),
        "replay_dir": str(tmp_path / "replay"),
    }
    if default_context is not None:
        config["default_context"] = default_context
    config_file = tmp_path / "config.yaml"
    config_file.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    command = [
        sys.executable,
        "-m",
        "cookiecutter",
        str(template_dir),
        "--no-input",
        "--config-file",
        str(config_file),
        "--output-dir",
        str(tmp_path / "out"),
        *answers,
    ]
    return run(command, tmp_path)


# (answer on the command line, what the one-line error shows)
BAD_COMMAND_LINE_ANSWERS = [
    ('project_name=My "Service"', """ERROR: project_name='My "Service"'"""),
    ("project_slug=My Service", "ERROR: project_slug='My Service'"),
    ("project_slug=my--service", "ERROR: project_slug='my--service'"),
    ("package_name=class", "ERROR: package_name='class' is a Python keyword"),
    ("package_name=json", "ERROR: package_name='json'"),
    ("package_name=fastapi", "ERROR: package_name='fastapi'"),
    ("package_name=tests", "ERROR: package_name='tests'"),
    ("author_email=nobody", "ERROR: author_email='nobody'"),
    ("python_version=3.10", "ERROR: python_version='3.10'"),
    # cookiecutter itself refuses a switch it cannot read as a boolean.
    ("use_docker=maybe", "maybe provided for variable use_docker"),
]


@pytest.mark.parametrize(("answer", "message"), BAD_COMMAND_LINE_ANSWERS)
def test_bad_answer_fails_and_leaves_nothing(
    template_dir: Path, tmp_path: Path, answer: str, message: str
) -> None:
    result = run_cookiecutter(template_dir, tmp_path, answer)

    assert result.returncode != 0
    assert message in result.stderr, result.stdout + result.stderr
    output_dir = tmp_path / "out"
    assert not output_dir.exists() or not any(output_dir.iterdir())


def test_config_file_and_command_line_answers(template_dir: Path, tmp_path: Path) -> None:
    result = run_cookiecutter(
        template_dir,
        tmp_path,
        "use_github_actions=no",
        default_context={"project_name": "Billing Service", "use_docker": False},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    project = tmp_path / "out" / "billing-service"
    assert (project / "billing_service" / "main.py").is_file()
    assert not (project / "compose.yaml").exists()
    assert not (project / ".github").exists()
    assert "uvicorn billing_service.main:app --reload" in result.stdout


def test_config_file_non_boolean_switch_is_refused(template_dir: Path, tmp_path: Path) -> None:
    result = run_cookiecutter(template_dir, tmp_path, default_context={"use_docker": None})

    assert result.returncode != 0
    assert "ERROR: use_docker=None must be true or false" in result.stderr
    assert not any((tmp_path / "out").iterdir())
