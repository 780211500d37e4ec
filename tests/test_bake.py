"""Bake the template with cookiecutter and check what comes out.

Two sets of switch combinations, both derived from SWITCHES:
- the Python checks (ruff, ruff format, mypy --strict) run on every combination of the
  switches that change Python code, with the others at their defaults: those only add
  compose and CI files (a test below proves that);
- the rendering checks (no Jinja residue or blank-line debris, feature paths) run on
  those and on a set covering every pair of values of all switches.
"""

import fcntl
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml

from hooks.post_gen_project import FEATURE_PATHS, feature_paths, paths_to_remove
from hooks.pre_gen_project import PYTHON_VERSIONS, SWITCHES

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
DEFAULTS: dict[str, bool] = {
    name: value
    for name, value in json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text()).items()
    if name in SWITCHES
}
# Switches that only add files no Python tool reads.
NON_PYTHON_SWITCHES = ("use_docker", "use_github_actions")
PYTHON_SWITCHES = tuple(switch for switch in SWITCHES if switch not in NON_PYTHON_SWITCHES)

Switches = dict[str, bool]


def every_combination(switches: tuple[str, ...]) -> list[Switches]:
    """All 2**n combinations of `switches`, the other switches at their defaults."""
    return [
        {**DEFAULTS, **dict(zip(switches, values, strict=True))}
        for values in itertools.product([False, True], repeat=len(switches))
    ]


def every_pair(switches: tuple[str, ...]) -> list[Switches]:
    """All off, each on alone, all on: every pair of switches sees all four value pairs."""
    all_off = {**DEFAULTS, **dict.fromkeys(switches, False)}
    return [
        all_off,
        *[{**all_off, switch: True} for switch in switches],
        {**DEFAULTS, **dict.fromkeys(switches, True)},
    ]


def covering(switches: tuple[str, ...], strength: int) -> list[Switches]:
    """Few combinations in which every `strength` switches take all their value tuples.

    Greedy: repeatedly take the combination that covers the most tuples not yet seen.
    """
    rows = list(itertools.product([False, True], repeat=len(switches)))
    groups = list(itertools.combinations(range(len(switches)), strength))

    def tuples(row: tuple[bool, ...]) -> set[tuple[tuple[int, ...], tuple[bool, ...]]]:
        return {(group, tuple(row[i] for i in group)) for group in groups}

    missing = {
        (group, values)
        for group in groups
        for values in itertools.product([False, True], repeat=strength)
    }
    chosen = []
    while missing:
        best = max(rows, key=lambda row: len(tuples(row) & missing))
        missing -= tuples(best)
        chosen.append(best)
    return [{**DEFAULTS, **dict(zip(switches, row, strict=True))} for row in chosen]


def combination_id(switches: Switches) -> str:
    return "-".join(
        f"{name.removeprefix('use_')}_{'on' if switches[name] else 'off'}" for name in SWITCHES
    )


def params(combinations: list[Switches]) -> list[Any]:
    """One param per combination, all its checks on one xdist worker (one bake)."""
    unique = {combination_id(switches): switches for switches in combinations}
    return [
        pytest.param(switches, id=name, marks=pytest.mark.xdist_group(name))
        for name, switches in unique.items()
    ]


# Every combination while that stays affordable (2**6 = 64 bakes and mypy runs take a few
# minutes); beyond it, every three switches in all their value combinations.
MAX_FULL_PRODUCT = 64
if 2 ** len(PYTHON_SWITCHES) <= MAX_FULL_PRODUCT:
    PYTHON_COMBINATIONS = every_combination(PYTHON_SWITCHES)
else:
    PYTHON_COMBINATIONS = covering(PYTHON_SWITCHES, strength=3)
RENDER_COMBINATIONS = PYTHON_COMBINATIONS + every_pair(SWITCHES)

# Jinja left unrendered; `${{ ... }}` is a GitHub Actions expression, not Jinja.
TEMPLATE_RESIDUE = re.compile(r"(?<!\$)\{\{|\{%|\{#|cookiecutter\.\w")


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


def run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


Bake = Callable[[Switches], Path]


@pytest.fixture(scope="session")
def bake(cookies_session: Any) -> Bake:
    """Bake a combination once per worker; every check of it reuses the project."""
    projects: dict[str, Path] = {}

    def bake(switches: Switches) -> Path:
        name = combination_id(switches)
        if name not in projects:
            result = cookies_session.bake(extra_context=switches)
            assert result.exit_code == 0, result.exception
            projects[name] = result.project_path
        return projects[name]

    return bake


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A directory this run's xdist workers share (the base temp without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session")
def type_checker(shared_dir: Path, bake: Bake, worker_id: str) -> list[str]:
    """`python -m mypy` in a venv holding every dependency of every combination.

    Built once per run by the first worker (the others wait), with a mypy cache warmed on
    the all-features project; each worker checks with a copy of that cache, so the
    third-party packages are analysed once.
    """
    venv = shared_dir / "type-checker"
    python = str(venv / "bin" / "python")
    warm_cache = shared_dir / "mypy-cache"
    with (shared_dir / "type-checker.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not warm_cache.exists():
            all_on = bake(dict.fromkeys(SWITCHES, True))
            project = tomllib.loads((all_on / "pyproject.toml").read_text("utf-8"))["project"]
            requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            install = run([python, "-m", "pip", "install", "-q", *requirements], shared_dir)
            assert install.returncode == 0, install.stdout + install.stderr
            cache = shared_dir / "mypy-cache-warming"
            run([python, "-m", "mypy", "--strict", "--cache-dir", str(cache), "."], all_on)
            cache.rename(warm_cache)
    cache = shared_dir / f"mypy-cache-{worker_id}"
    shutil.copytree(warm_cache, cache, dirs_exist_ok=True)
    return [python, "-m", "mypy", "--cache-dir", str(cache)]


def test_default_bake(cookies: Any) -> None:
    result = cookies.bake()

    assert result.exit_code == 0, result.exception
    assert result.exception is None
    assert result.project_path.name == "my-service"
    assert (result.project_path / "my_service" / "main.py").is_file()


@pytest.mark.parametrize("switches", params(RENDER_COMBINATIONS))
def test_no_template_residue(bake: Bake, switches: Switches) -> None:
    project = bake(switches)
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


@pytest.mark.parametrize("switches", params(RENDER_COMBINATIONS))
def test_no_blank_line_debris(bake: Bake, switches: Switches) -> None:
    project = bake(switches)
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


@pytest.mark.parametrize("switches", params(RENDER_COMBINATIONS))
def test_feature_paths_follow_switches(bake: Bake, switches: Switches) -> None:
    project = bake(switches)
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


@pytest.mark.parametrize("switches", params(RENDER_COMBINATIONS))
def test_files_named_in_next_steps_exist(bake: Bake, switches: Switches) -> None:
    assert (bake(switches) / ".env.example").is_file()  # cp .env.example .env


@pytest.mark.parametrize("switches", params(PYTHON_COMBINATIONS))
def test_ruff_check(bake: Bake, switches: Switches) -> None:
    result = run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], bake(switches))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("switches", params(PYTHON_COMBINATIONS))
def test_ruff_format(bake: Bake, switches: Switches) -> None:
    project = bake(switches)
    result = run([sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."], project)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("switches", params(PYTHON_COMBINATIONS))
def test_mypy_strict(bake: Bake, type_checker: list[str], switches: Switches) -> None:
    result = run([*type_checker, "--strict", "."], bake(switches))
    assert result.returncode == 0, result.stdout + result.stderr


# The oldest version is the default, checked above; another target makes mypy analyse
# every package anew (about a minute each), so only the newest is added.
@pytest.mark.parametrize("python_version", PYTHON_VERSIONS[-1:])
def test_mypy_strict_for_the_newest_python_version(
    cookies: Any, type_checker: list[str], python_version: str
) -> None:
    result = cookies.bake(
        extra_context={**dict.fromkeys(PYTHON_SWITCHES, True), "python_version": python_version}
    )
    assert result.exit_code == 0, result.exception

    check = run(
        [*type_checker, "--strict", "--python-version", python_version, "."], result.project_path
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_non_python_switches_change_no_python_tool_input() -> None:
    # What lets the Python checks skip the combinations of these switches: no file ruff,
    # mypy or Alembic reads mentions them, and the paths they remove are not Python.
    project = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
    python_inputs = [
        path
        for path in project.rglob("*")
        if path.suffix in {".py", ".toml", ".ini", ".mako", ".cfg"} and path.is_file()
    ]
    mentions = [
        f"{path.relative_to(project)}: {switch}"
        for path in python_inputs
        for switch in NON_PYTHON_SWITCHES
        if switch in path.read_text(encoding="utf-8")
    ]
    assert python_inputs
    assert mentions == []
    for switch in NON_PYTHON_SWITCHES:
        assert not [path for path in FEATURE_PATHS[switch] if path.endswith(".py")]


def test_covering_sets_cover() -> None:
    names = tuple(f"use_{n}" for n in range(8))
    for strength in (2, 3):
        rows = covering(names, strength)
        assert len(rows) < 2 ** len(names)
        for group in itertools.combinations(names, strength):
            assert len({tuple(row[name] for name in group) for row in rows}) == 2**strength


# Docker and CI on (their defaults); the files depend on a switch or two: pairs cover them.
@pytest.mark.parametrize("switches", params(every_pair(PYTHON_SWITCHES)))
def test_workflow_and_compose_match_their_schemas(bake: Bake, switches: Switches) -> None:
    project = bake(switches)
    schemas = {
        ".github/workflows/ci.yml": "vendor.github-workflows",
        ".github/dependabot.yml": "vendor.dependabot",
        "compose.yaml": "vendor.compose-spec",
    }
    for path, schema in schemas.items():
        command = ["check_jsonschema", "--builtin-schema", schema, path]
        result = run([sys.executable, "-m", *command], project)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("switches", params(every_pair(PYTHON_SWITCHES)))
def test_workflow_passes_zizmor(bake: Bake, switches: Switches) -> None:
    project = bake(switches)
    # Offline: the audits that need the GitHub API are skipped (CI has no token).
    zizmor = Path(sys.executable).with_name("zizmor")
    result = run([str(zizmor), "--offline", "--format", "json", ".github"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


# The Dockerfile depends on use_docker (on by default) and python_version only.
@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_dockerfile_passes_hadolint(cookies: Any, python_version: str) -> None:
    result = cookies.bake(extra_context={"python_version": python_version})
    assert result.exit_code == 0, result.exception
    hadolint = Path(sys.executable).with_name("hadolint")
    linted = run([str(hadolint), "--format", "json", "Dockerfile"], result.project_path)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert json.loads(linted.stdout) == []


def test_the_image_runs_the_entry_scripts_the_tests_run(cookies: Any) -> None:
    """The image serves and migrates with scripts/serve and scripts/migrate, which the
    generated tests start the service and migrate with (behind PgBouncer, 2 workers)."""
    result = cookies.bake(extra_context={"use_replica": True})
    assert result.exit_code == 0, result.exception
    project: Path = result.project_path
    for name in ("serve", "migrate"):
        assert os.access(project / "scripts" / name, os.X_OK), name
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY scripts/serve scripts/migrate ./scripts/" in dockerfile
    assert dockerfile.rstrip().endswith('CMD ["/app/scripts/serve"]')
    ignored = (project / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {"scripts/*", "!scripts/serve", "!scripts/migrate"} <= set(ignored)
    services = yaml.safe_load((project / "compose.yaml").read_text(encoding="utf-8"))["services"]
    assert services["migrate"]["command"] == ["/app/scripts/migrate"]
    environment = services["app"]["environment"]
    assert environment["DB_PGBOUNCER"] == "true"
    assert "@pgbouncer:" in environment["DATABASE_URL"]
    assert "@postgres:" in environment["MIGRATION_DATABASE_URL"]
    assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    tests = project / "tests"
    assert '"scripts" / "serve"' in (tests / "conftest.py").read_text(encoding="utf-8")
    assert '"scripts" / "migrate"' in (tests / "test_pgbouncer.py").read_text(encoding="utf-8")


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


def write_config(tmp_path: Path, default_context: dict[str, Any] | None = None) -> Path:
    """A cookiecutter config file keeping clones and replays inside tmp_path."""
    config: dict[str, Any] = {
        "cookiecutters_dir": str(tmp_path / "cookiecutters"),
        "replay_dir": str(tmp_path / "replay"),
    }
    if default_context is not None:
        config["default_context"] = default_context
    config_file = tmp_path / "config.yaml"
    config_file.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return config_file


def shell_env(cwd: Path, path: str | None = None) -> dict[str, str]:
    """The environment a shell gives a command it starts in `cwd` (PWD included)."""
    env = {**os.environ, "PWD": str(cwd)}
    if path is not None:
        env["PATH"] = path
    return env


def run_cookiecutter(
    template_dir: Path,
    tmp_path: Path,
    *answers: str,
    default_context: dict[str, Any] | None = None,
    path: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`cookiecutter --no-input` as CI runs it, from tmp_path, with a config file there."""
    write_config(tmp_path, default_context)
    command = [
        sys.executable,
        "-m",
        "cookiecutter",
        str(template_dir),
        "--no-input",
        "--config-file",
        "config.yaml",
        "--output-dir",
        "out",
        *answers,
    ]
    return run(command, tmp_path, shell_env(tmp_path, path))


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
    # cookiecutter itself refuses a version outside the choice and a switch it cannot
    # read as a boolean, before any hook runs.
    ("python_version=3.10", "3.10 provided for choice variable python_version"),
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


def test_every_bad_answer_is_reported_at_once(template_dir: Path, tmp_path: Path) -> None:
    result = run_cookiecutter(
        template_dir, tmp_path, "package_name=class", "author_email=nobody", "project_name=a\\b"
    )

    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
    assert errors[:3] == [
        "ERROR: project_name='a\\\\b' must not contain a double quote or a backslash",
        "ERROR: package_name='class' is a Python keyword",
        "ERROR: author_email='nobody' does not look like an email address",
    ]
    assert not any((tmp_path / "out").iterdir())


def answer_prompts(command: list[str], cwd: Path, answers: dict[str, str]) -> tuple[str, int]:
    """Run cookiecutter on a pseudo-terminal, answering each prompt (Enter by default)."""
    names = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
    questions = [name for name in names if not name.startswith("_")]
    env = {**shell_env(cwd), "TERM": "dumb", "NO_COLOR": "1", "COLUMNS": "200"}
    child = pexpect.spawn(command[0], command[1:], cwd=str(cwd), env=env, encoding="utf-8")
    child.timeout = 60
    transcript = io.StringIO()
    child.logfile_read = transcript
    for name in questions:
        child.expect(r"\[(\d+)/\d+\]")
        assert questions[int(child.match.group(1)) - 1] == name, transcript.getvalue()
        child.expect_exact(": ")
        child.sendline(answers.get(name, ""))
    child.expect(pexpect.EOF)
    child.close()
    return transcript.getvalue(), child.exitstatus


def test_interactive_run_reports_every_bad_answer_and_forgets_them(
    template_dir: Path, tmp_path: Path
) -> None:
    write_config(tmp_path)
    command = [sys.executable, "-m", "cookiecutter", "--config-file", "config.yaml"]
    command += ["--output-dir", "out", str(template_dir)]

    transcript, status = answer_prompts(
        command, tmp_path, {"package_name": "class", "author_email": "nobody"}
    )

    assert status != 0
    # The Python version is picked from a list, so it cannot be wrong.
    assert "1 - 3.11" in transcript
    assert "ERROR: package_name='class' is a Python keyword" in transcript
    assert "ERROR: author_email='nobody' does not look like an email address" in transcript
    assert not any((tmp_path / "out").iterdir())
    # --replay must not bring the rejected answers back.
    assert list((tmp_path / "replay").iterdir()) == []


def test_replay_is_kept_for_answers_that_passed(template_dir: Path, tmp_path: Path) -> None:
    good = run_cookiecutter(template_dir, tmp_path, "project_name=Billing")
    assert good.returncode == 0, good.stdout + good.stderr
    (saved,) = (tmp_path / "replay").iterdir()
    assert json.loads(saved.read_text())["cookiecutter"]["project_name"] == "Billing"

    bad = run_cookiecutter(template_dir, tmp_path, "project_name=Other", "package_name=class")
    assert bad.returncode != 0
    # A rejected run leaves no replay behind; `--replay` cannot repeat its answers.
    assert not saved.exists()


def fake_python(directory: Path, name: str, version: str) -> None:
    """An executable `name` on PATH that answers the version query as that Python would."""
    script = directory / name
    script.write_text(f"#!/bin/sh\necho {version.replace('.', ' ')}\n", encoding="utf-8")
    script.chmod(0o755)


@pytest.mark.parametrize(
    ("on_path", "python_version", "venv_command"),
    [
        ({"python3": "3.13"}, "3.11", "python3 -m venv .venv"),
        ({"python3": "3.11", "python3.12": "3.12"}, "3.12", "python3.12 -m venv .venv"),
        (
            {"python3": "3.11"},
            "3.13",
            "python3 -m venv .venv   # needs Python 3.13 or newer: none found on PATH",
        ),
    ],
)
def test_next_steps_use_a_python_on_path(
    template_dir: Path,
    tmp_path: Path,
    on_path: dict[str, str],
    python_version: str,
    venv_command: str,
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, version in on_path.items():
        fake_python(bin_dir, name, version)

    result = run_cookiecutter(
        template_dir, tmp_path, f"python_version={python_version}", path=str(bin_dir)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"    {venv_command}" in result.stdout.splitlines()


def test_unquoted_version_in_a_config_file_falls_back_to_the_default(
    template_dir: Path, tmp_path: Path
) -> None:
    # Documented in README.md: YAML reads 3.12 as a number, which cookiecutter drops with a
    # warning (a choice only takes its own strings); the quoted "3.12" works.
    result = run_cookiecutter(template_dir, tmp_path, default_context={"python_version": 3.12})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Invalid default received" in result.stderr
    pyproject = tomllib.loads((tmp_path / "out" / "my-service" / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">=3.11"
