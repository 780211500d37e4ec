"""Bake the template with cookiecutter and check what comes out.

Three sets of switch combinations, all derived from cookiecutter.json (tests/combinations.py):
- the Python checks (ruff, ruff format, mypy --strict) run on the switches that change
  Python code, 9 of them, with the others at their defaults (those only add compose,
  Docker and CI files: a test below proves that) and the oldest Python: every combination
  of any 8 of the 9 (the 256 combinations with an even number on, plus all on, 257 bakes
  instead of 512: a 9-way-only line would be the one thing missed, and there is none);
- every newer Python version gets the same checks on every pair of those switches (all
  off, each alone, all on): the template's code does not depend on the version, so a
  version can only matter through the stubs a line of code meets, and every line any
  combination renders is in that set (a test below proves that too);
- the rendering checks (no Jinja residue or blank-line debris, feature paths) run on all
  of the above and on every pair of values of all switches.

mypy runs with one incremental cache per xdist worker and Python version, warmed once per
run on the all-on project: a combination rechecks only the project's own modules.
"""

import fcntl
import fnmatch
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml
from cookiecutter.environment import StrictEnvironment
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config
from jinja2 import FileSystemLoader

from hooks.post_gen_project import FEATURE_PATHS, feature_paths, paths_to_remove
from hooks.pre_gen_project import PYTHON_VERSIONS, SWITCHES
from tests.combinations import (
    ANSWERS,
    DEFAULTS,
    NON_PYTHON_SWITCHES,
    OLDEST_PYTHON,
    PYTHON_SWITCHES,
    Switches,
    combination_id,
    every_combination_of_all_but_one,
    every_pair,
    params,
)
from tests.private_uses import private_uses

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
PROJECT_TEMPLATE = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
# What ruff, mypy and Alembic read.
PYTHON_TOOL_INPUTS = {".py", ".pyi", ".toml", ".ini", ".mako", ".cfg"}

PYTHON_COMBINATIONS = every_combination_of_all_but_one(PYTHON_SWITCHES)
NEWER_PYTHONS = PYTHON_VERSIONS[1:]
VERSION_PARAMS = params(
    [
        {**switches, "python_version": version}
        for version in NEWER_PYTHONS
        for switches in every_pair(PYTHON_SWITCHES)
    ]
)
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
def shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A directory this run's xdist workers share (the base temp without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Holds an exclusive lock on `lock_file` across this run's xdist workers."""
    with lock_file.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def bake(cookies_session: Any, shared_dir: Path) -> Bake:
    """Bake a combination once per run; every check of it, on any worker, reuses it.

    A combination's checks share an xdist group (one worker), and the few combinations
    that other tests bake too (all-on for the type checker, every pair for the schemas)
    are shared through the file system, under a lock.
    """
    bakes = shared_dir / "bakes"
    bakes.mkdir(exist_ok=True)

    def bake(switches: Switches) -> Path:
        name = combination_id(switches)
        baked = bakes / name
        with exclusive(bakes / f"{name}.lock"):
            if not baked.exists():
                result = cookies_session.bake(extra_context=switches)
                assert result.exit_code == 0, result.exception
                result.project_path.parent.rename(baked)
        (project,) = baked.iterdir()
        return project

    return bake


TypeCheck = Callable[[Path, str], subprocess.CompletedProcess[str]]

# Run in the background by the first worker: the venv, then a mypy cache per Python
# version warmed on the all-on project (the oldest first), each renamed into place when
# done; the status file says how the venv install ended, the done file that all ended.
TYPE_CHECKER_SETUP = """
venv="$1" shared="$2" requirements="$3"
shift 3
if python -m venv "$venv" && "$venv/bin/python" -m pip install -q -r "$requirements"; then
    echo 0 >"$shared/type-checker.status"
else
    echo 1 >"$shared/type-checker.status"
    exit 1
fi
while [ $# -gt 0 ]; do
    version="$1" project="$2"
    shift 2
    (cd "$project" && "$venv/bin/python" -m mypy --strict --python-version "$version" \
        --cache-dir "$shared/mypy-cache-warming-py$version" . >/dev/null)
    mv "$shared/mypy-cache-warming-py$version" "$shared/mypy-cache-py$version"
done
touch "$shared/type-checker.done"
"""


@pytest.fixture(scope="session", autouse=True)
def type_checker_setup(
    request: pytest.FixtureRequest, shared_dir: Path, bake: Bake
) -> Iterator[None]:
    """Starts building the type checker (venv and warm caches) in the background, once
    per run where a type check is selected, as soon as a worker starts on this module:
    it overlaps with the bakes and the rendering checks that come first."""
    process = None
    wanted = any(
        "type_checker" in getattr(item, "fixturenames", ()) for item in request.session.items
    )
    with exclusive(shared_dir / "type-checker.lock"):
        if wanted and not (shared_dir / "type-checker.log").exists():
            projects = []
            for version in PYTHON_VERSIONS:
                all_on = bake({**dict.fromkeys(SWITCHES, True), "python_version": version})
                projects += [version, str(all_on)]
            pyproject = tomllib.loads((all_on / "pyproject.toml").read_text("utf-8"))["project"]
            requirements = shared_dir / "type-checker-requirements.txt"
            requirements.write_text(
                "\n".join([*pyproject["dependencies"], *pyproject["optional-dependencies"]["dev"]])
            )
            venv = shared_dir / "type-checker"
            bin_dir = Path(sys.executable).parent  # `python`: this run's interpreter
            command = ["bash", "-c", TYPE_CHECKER_SETUP, "setup", str(venv), str(shared_dir)]
            with (shared_dir / "type-checker.log").open("w") as log:
                process = subprocess.Popen(
                    [*command, str(requirements), *projects],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
                    start_new_session=True,
                )
    yield
    # At the end of the session whatever is still running is not needed (a version no
    # selected test checks) or the run was interrupted: stop it, pip and mypy included.
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()


@pytest.fixture(scope="session")
def type_checker(shared_dir: Path, worker_id: str) -> TypeCheck:
    """Runs `mypy --strict` on a project for a Python version, in a venv holding every
    dependency of every combination (built by `type_checker_setup`).

    Each worker starts from a copy of the cache warmed for that version on the all-on
    project, so the third-party packages are analysed once per version, and keeps its
    cache from one combination to the next, so a combination costs a recheck of the
    project's own modules. Every combination is baked to a directory of its own; mypy's
    cache records the paths relative to it, and a module whose text is unchanged stays
    fresh.
    """
    python = str(shared_dir / "type-checker" / "bin" / "python")

    def warm_cache(python_version: str) -> Path:
        cache = shared_dir / f"mypy-cache-py{python_version}"
        status = shared_dir / "type-checker.status"
        for _ in range(3600):
            if cache.exists():
                return cache
            if status.exists() and status.read_text().strip() != "0":
                break
            if (shared_dir / "type-checker.done").exists():
                break
            time.sleep(1)
        log = (shared_dir / "type-checker.log").read_text()
        raise AssertionError(f"no type checker for Python {python_version}:\n{log}")

    def check(project: Path, python_version: str) -> subprocess.CompletedProcess[str]:
        cache = shared_dir / f"mypy-cache-{worker_id}-py{python_version}"
        if not cache.exists():
            shutil.copytree(warm_cache(python_version), cache)
        command = [python, "-m", "mypy", "--strict", "--python-version", python_version]
        return run([*command, "--cache-dir", str(cache), "."], project)

    return check


def test_default_bake(cookies: Any) -> None:
    result = cookies.bake()

    assert result.exit_code == 0, result.exception
    assert result.exception is None
    assert result.project_path.name == "my-service"
    assert (result.project_path / "my_service" / "main.py").is_file()


def test_bakes_in_these_tests_write_no_lock(cookies: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # tests/conftest.py sets SKIP_UV_LOCK: even with uv on PATH no bake resolves against the
    # index (tests/test_locked_install.py is the one that does).
    uv = Path(sys.executable).with_name("uv")
    assert uv.is_file()
    monkeypatch.setenv("PATH", f"{uv.parent}{os.pathsep}{os.environ['PATH']}")

    result = cookies.bake()

    assert result.exit_code == 0, result.exception
    assert not (result.project_path / "uv.lock").exists()


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


# The hooks of .pre-commit-config.yaml: the project's own ruff and mypy, as CI runs them.
PRE_COMMIT_HOOKS = {"ruff-check": "ruff", "ruff-format": "ruff", "mypy": "mypy"}


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match.group().lower()


@pytest.mark.parametrize("switches", params(RENDER_COMBINATIONS))
def test_pre_commit_config_names_its_hooks(bake: Bake, switches: Switches) -> None:
    project = bake(switches)
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert {hook["id"]: hook["entry"].split()[0] for hook in hooks} == PRE_COMMIT_HOOKS
    # `pre-commit install` (README) and every tool a hook runs come with the dev extra.
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    dev = {requirement_name(r) for r in pyproject["project"]["optional-dependencies"]["dev"]}
    assert {"pre-commit", *PRE_COMMIT_HOOKS.values()} <= dev


def ruff_check(project: Path) -> None:
    result = run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], project)
    assert result.returncode == 0, result.stdout + result.stderr


def ruff_format(project: Path) -> None:
    result = run([sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."], project)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("switches", params(PYTHON_COMBINATIONS))
def test_ruff_check(bake: Bake, switches: Switches) -> None:
    ruff_check(bake(switches))


@pytest.mark.parametrize("switches", params(PYTHON_COMBINATIONS))
def test_ruff_format(bake: Bake, switches: Switches) -> None:
    ruff_format(bake(switches))


@pytest.mark.parametrize("switches", params(PYTHON_COMBINATIONS))
def test_mypy_strict(bake: Bake, type_checker: TypeCheck, switches: Switches) -> None:
    result = type_checker(bake(switches), OLDEST_PYTHON)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("switches", params(PYTHON_COMBINATIONS))
def test_public_apis_only(bake: Bake, switches: Switches) -> None:
    """SPEC §10: no private module, name or attribute of a library, no replaced method."""
    project = bake(switches)
    assert private_uses(project, project.name.replace("-", "_")) == []


# ruff's target follows python_version, and some rules (UP) depend on the target.
@pytest.mark.parametrize("switches", VERSION_PARAMS)
def test_ruff_check_for_newer_python_versions(bake: Bake, switches: Switches) -> None:
    ruff_check(bake(switches))


@pytest.mark.parametrize("switches", VERSION_PARAMS)
def test_ruff_format_for_newer_python_versions(bake: Bake, switches: Switches) -> None:
    ruff_format(bake(switches))


@pytest.mark.parametrize("switches", VERSION_PARAMS)
def test_mypy_strict_for_newer_python_versions(
    bake: Bake, type_checker: TypeCheck, switches: Switches
) -> None:
    result = type_checker(bake(switches), switches["python_version"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_combination_of_any_8_of_the_python_switches_is_checked() -> None:
    assert len(PYTHON_SWITCHES) == 9
    assert len(PYTHON_COMBINATIONS) == 2**8 + 1
    for left_out in PYTHON_SWITCHES:
        others = [switch for switch in PYTHON_SWITCHES if switch != left_out]
        assert len({tuple(c[s] for s in others) for c in PYTHON_COMBINATIONS}) == 2**8
    assert dict.fromkeys(PYTHON_SWITCHES, True).items() <= PYTHON_COMBINATIONS[-1].items()
    assert {c["python_version"] for c in (p.values[0] for p in VERSION_PARAMS)} == set(
        NEWER_PYTHONS
    )


def rendered_lines(switches: Switches, environment: StrictEnvironment) -> set[tuple[str, str]]:
    """(file, line) for every line of every file a Python tool reads, as rendered."""
    answers = {**environment.globals["cookiecutter"], **switches}
    removed = {str(path) for path in paths_to_remove(answers)}
    lines = set()
    for relative in environment.list_templates(extensions=[s[1:] for s in PYTHON_TOOL_INPUTS]):
        name = relative.replace("{{cookiecutter.package_name}}", answers["package_name"])
        if any(name == gone or name.startswith(f"{gone}/") for gone in removed):
            continue
        text = environment.get_template(relative).render(cookiecutter=answers)
        lines |= {(relative, line.strip()) for line in text.splitlines()}
    return lines


def test_newer_versions_see_every_line_any_combination_renders() -> None:
    # What makes every pair enough for the newer versions: the code does not depend on the
    # version (only requires-python and ruff's target do), and every line of Python any
    # combination renders appears in one of the combinations checked for each version.
    mentions = [
        str(path.relative_to(PROJECT_TEMPLATE))
        for path in PROJECT_TEMPLATE.rglob("*")
        if path.suffix in PYTHON_TOOL_INPUTS
        and path.is_file()
        and "python_version" in path.read_text(encoding="utf-8")
    ]
    assert mentions == ["pyproject.toml"]
    context = generate_context(context_file=str(TEMPLATE_DIR / "cookiecutter.json"))
    answers = dict(prompt_for_config(context, no_input=True))
    environment = StrictEnvironment(
        context={"cookiecutter": answers},
        keep_trailing_newline=True,
        loader=FileSystemLoader([str(PROJECT_TEMPLATE), str(TEMPLATE_DIR / "templates")]),
        **ANSWERS["_jinja2_env_vars"],
    )
    environment.globals["cookiecutter"] = answers
    checked = set().union(*(rendered_lines(c, environment) for c in every_pair(PYTHON_SWITCHES)))
    every = set().union(*(rendered_lines(c, environment) for c in PYTHON_COMBINATIONS))
    assert checked  # and the pyproject.toml lines that follow the version
    assert sorted(every - checked) == []


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


# uv from its image, pinned to a release (a tag like `latest` moves).
UV_IMAGE = re.compile(r"^COPY --from=ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ /uv /bin/uv$", re.M)


def test_the_image_installs_exactly_the_lock(bake: Bake) -> None:
    project = bake(DEFAULTS)
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    assert UV_IMAGE.search(dockerfile), dockerfile
    syncs = [line.strip() for line in dockerfile.splitlines() if "uv sync" in line]
    # The dependencies alone (a layer cached until uv.lock changes), then the project.
    assert len(syncs) == 2, syncs
    assert all("--locked" in sync and "--no-editable" in sync for sync in syncs), syncs
    assert "--no-install-project" in syncs[0]
    assert "--no-install-project" not in syncs[1]
    assert "--mount=type=bind,source=uv.lock,target=uv.lock" in dockerfile
    assert "pip install" not in dockerfile
    ignored = (project / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line for line in ignored if line and not line.startswith(("#", "!"))]
    assert not [p for p in patterns if fnmatch.fnmatch("uv.lock", p.removeprefix("**/"))]


def test_the_image_health_check_follows_port(bake: Bake) -> None:
    dockerfile = (bake(DEFAULTS) / "Dockerfile").read_text(encoding="utf-8")
    check = dockerfile[dockerfile.index("HEALTHCHECK") :]
    check = check[: check.index("\n#")]
    # scripts/serve listens on PORT (default 8000); the check must ask there.
    assert "os.environ.get('PORT', '8000')" in check, check
    assert "127.0.0.1:8000" not in check


# Actions pinned by commit, as every other action in the workflow.
SETUP_UV = re.compile(r"^astral-sh/setup-uv@[0-9a-f]{40}$")


def test_workflow_installs_exactly_the_lock(bake: Bake) -> None:
    workflow = yaml.safe_load(
        (bake(DEFAULTS) / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    )
    steps = workflow["jobs"]["test"]["steps"]
    uses = [step["uses"] for step in steps if "uses" in step]
    assert [use for use in uses if SETUP_UV.match(use)], uses
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "uv sync --locked --extra dev" in runs
    assert "pip install" not in runs.replace("apt-get install", "")


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


@pytest.mark.parametrize(
    "switches",
    params(
        [
            {**DEFAULTS, "use_docker": False},
            {**DEFAULTS, "use_docker": False, "use_replica": True, "use_cache": True},
        ]
    ),
)
def test_readme_says_how_to_run_without_docker(bake: Bake, switches: Switches) -> None:
    # Without compose, `alembic upgrade head` needs a database someone created, and the
    # servers a feature uses (Redis, a streaming replica) need starting by hand.
    readme = (bake(switches) / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Running without Docker") :]
    section = section[: section.index("\n## ", 1)]
    assert "createdb -h localhost -U postgres my_service" in section
    assert ("pg_basebackup" in section) is switches["use_replica"]
    # A private primary and standby to try the replica on (or one of your own server's).
    assert ("scripts/dev-standby start" in section) is switches["use_replica"]
    assert ("REPLICA_DATABASE_URL" in section) is switches["use_replica"]
    assert ("redis-server" in section) is switches["use_cache"]
    assert "docker compose" not in readme


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


def answer_prompts(
    command: list[str], cwd: Path, answers: dict[str, str], env: dict[str, str] | None = None
) -> tuple[str, int]:
    """Run cookiecutter on a pseudo-terminal, answering each prompt (Enter by default)."""
    names = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
    questions = [name for name in names if not name.startswith("_")]
    env = {**(env or os.environ), "PWD": str(cwd), "TERM": "dumb", "NO_COLOR": "1"}
    env["COLUMNS"] = "200"
    child = pexpect.spawn(
        command[0], command[1:], cwd=str(cwd), env=env, encoding="utf-8", dimensions=(24, 200)
    )
    child.timeout = 60
    transcript = io.StringIO()
    child.logfile_read = transcript
    for name in questions:
        child.expect(r"\[(\d+)/\d+\]")
        assert questions[int(child.match.group(1)) - 1] == name, transcript.getvalue()
        # Every prompt ends with its default in parentheses and ": ", but rich wraps lines
        # at 80 columns on a dumb terminal and drops the space that falls on the wrap.
        child.expect(r"\): ?")
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
