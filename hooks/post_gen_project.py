"""Remove the files of every feature switched off, write uv.lock, print the next steps.

cruft runs this again on every update (and diff and check), in a temporary directory,
so it must be idempotent, touch nothing outside the project directory (its working
directory) and stay quiet there; it writes no lock there either (the project's own
uv.lock is the one that counts, and `uv lock` after an update moves it).

`SKIP_UV_LOCK=1` in the environment skips `uv lock`, which resolves every dependency
against the package index: for CI systems that generate many projects (this template's
own tests do). The next steps then say how to write the lock.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Switch -> the paths (relative to the project root) that exist only for that feature;
# `{package_name}` stands for the answer of that name. A path listed under several
# switches stays while any of them is on.
FEATURE_PATHS: dict[str, list[str]] = {
    "use_replica": [
        "{package_name}/api/consistency.py",
        "{package_name}/db/consistency.py",
        "{package_name}/db/routing.py",
        "scripts/dev-standby",
        "tests/stand_ins.py",
        "tests/test_consistency.py",
        "tests/test_dev_standby.py",
        "tests/test_consistency_tokens.py",
        "tests/test_replica.py",
        "tests/test_replicas.py",
        "tests/test_streaming_replica.py",
    ],
    "use_analytics_db": [
        "{package_name}/db/routing.py",
        "tests/stand_ins.py",
        "tests/test_analytics.py",
    ],
    "use_cache": [
        "{package_name}/api/cached.py",
        "{package_name}/api/consistency.py",
        "{package_name}/cache",
        "{package_name}/db/consistency.py",
        "tests/private_redis.py",
        "tests/test_cache.py",
        "tests/test_cache_history.py",
        "tests/test_consistency_tokens.py",
    ],
    "use_pool_monitoring": [
        "{package_name}/db/monitoring.py",
        "{package_name}/api/routes/pools.py",
        "tests/test_pool_monitoring.py",
    ],
    "use_sync_session": ["{package_name}/db/sync.py", "tests/test_sync_session.py"],
    "use_soft_delete": [
        "{package_name}/db/soft_delete.py",
        "migrations/versions/20261125_0003_soft_delete.py",
        "tests/test_soft_delete.py",
        "tests/test_soft_delete_migration.py",
    ],
    "use_metrics": ["{package_name}/metrics.py", "tests/test_metrics.py"],
    "use_tracing": ["{package_name}/tracing.py", "tests/test_tracing.py"],
    "use_auth": [
        "{package_name}/auth",
        "migrations/versions/20261206_0006_token_versions.py",
        "scripts/create-superuser",
        "tests/auth",
    ],
    "use_docker": ["compose.yaml", "Dockerfile", ".dockerignore"],
    "use_github_actions": [".github"],
}


def feature_paths(context: Mapping[str, Any], switch: str) -> list[str]:
    """The paths of one feature, with the answers filled in."""
    return [path.format(package_name=context["package_name"]) for path in FEATURE_PATHS[switch]]


def paths_to_remove(context: Mapping[str, Any]) -> list[str]:
    """Paths of the switches that are off, except those an enabled switch also needs."""
    kept = {
        path
        for switch in FEATURE_PATHS
        if context[switch]
        for path in feature_paths(context, switch)
    }
    unwanted = [
        path
        for switch in FEATURE_PATHS
        if not context[switch]
        for path in feature_paths(context, switch)
    ]
    return [path for path in dict.fromkeys(unwanted) if path not in kept]


def remove_disabled(context: Mapping[str, Any], root: Path) -> list[Path]:
    """Delete the paths of every switch that is off; return what was deleted."""
    removed: list[Path] = []
    for relative in paths_to_remove(context):
        path = root / relative
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(path)
    return removed


def interpreter_version(executable: str) -> tuple[int, int] | None:
    """The (major, minor) version of a Python interpreter, or None if it does not run."""
    try:
        result = subprocess.run(
            [executable, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        major, minor = result.stdout.split()
        return int(major), int(minor)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def find_python(minimum: str) -> str | None:
    """The name of a Python on PATH of at least `minimum` ("3.12"): python3 if it fits."""
    wanted = tuple(int(part) for part in minimum.split("."))
    newer = [f"python3.{minor}" for minor in range(wanted[1], wanted[1] + 10)]
    for name in ["python3", *newer]:
        executable = shutil.which(name)
        version = None if executable is None else interpreter_version(executable)
        if version is not None and version >= wanted:
            return name
    return None


SKIP_LOCK_VARIABLE = "SKIP_UV_LOCK"
# A resolution takes seconds; a hung network must not hang the generation.
LOCK_TIMEOUT_SECONDS = 300


def lock_skipped() -> bool:
    """True when the environment asks for no `uv lock` (SKIP_UV_LOCK set, and not to 0)."""
    return os.environ.get(SKIP_LOCK_VARIABLE, "") not in ("", "0")


def write_lock(uv: str, root: Path) -> str | None:
    """Run `uv lock` in the project: None when uv.lock is written, else why not, one line."""
    try:
        result = subprocess.run(
            [uv, "lock"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            timeout=LOCK_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return f"uv lock did not finish within {LOCK_TIMEOUT_SECONDS} s"
    except OSError as error:
        return f"uv lock did not start: {error}"
    if result.returncode == 0:
        return None
    # uv says what failed on an `error:` line and why on the `cause:` lines below it.
    lines = [line.strip() for line in result.stderr.splitlines()]
    errors = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
    causes = [line.removeprefix("cause:").strip() for line in lines if line.startswith("cause:")]
    reason = ": ".join([*errors[:1], *causes[-1:]]) or f"exit status {result.returncode}"
    return f"uv lock failed ({reason})"


def next_steps(
    context: Mapping[str, Any],
    root: Path,
    python: str | None,
    *,
    uv: bool = False,
    locked: bool = False,
) -> str:
    """The commands that take the new project from nothing to a running service: with uv
    when it is on PATH (`uv sync` makes .venv as uv.lock pins it), with pip otherwise."""
    version = context["python_version"]
    # The database .env.example names; README.md says how to run without Docker.
    createdb = f"createdb -h localhost -U postgres {context['package_name']}"
    if context["use_docker"]:
        database = [
            "docker compose up -d",
            f'# or, without Docker: {createdb}   (README.md, "Running without Docker")',
        ]
    else:
        database = [f'{createdb}   # README.md, "Running without Docker"']
    # The app refuses to start without a key of its own (authentication).
    secret_key = (
        ['echo "AUTH_SECRET_KEY=$(openssl rand -hex 32)" >> .env'] if context["use_auth"] else []
    )
    if uv:
        # uv finds a Python new enough, or downloads one.
        effect = "installs exactly what uv.lock pins" if locked else "writes uv.lock, installs it"
        install = [f"uv sync --extra dev           # {effect}"]
    else:
        venv = f"{python or 'python3'} -m venv .venv"
        if python is None:
            venv += f"   # needs Python {version} or newer: none found on PATH"
        install = [venv]
    install.append(". .venv/bin/activate")
    if not uv:
        install.append("pip install -e '.[dev]'")
    commands = [
        f"cd {shlex.quote(str(root))}",
        # cruft update needs the project in git, committed.
        'git init -q && git add -A && git commit -qm "Generated from the template"',
        *install,
        "cp .env.example .env",
        *secret_key,
        *database,
        "alembic upgrade head",
        "pytest",
        f"uvicorn {context['package_name']}.main:app --reload",
    ]
    lines = [f"Created {context['project_name']}. Next steps:", ""]
    lines += [f"    {command}" for command in commands]
    lines += ["", *template_updates(context)]
    if not uv:
        lines += [
            "",
            "No uv on PATH, so no uv.lock pins the dependencies yet: install uv",
            "(`pipx install uv` or `pip install uv`), run `uv lock` in the project and commit",
            "uv.lock; the image and CI install exactly what it pins (README.md, Quick start).",
        ]
    return "\n".join(lines)


def template_updates(context: Mapping[str, Any]) -> list[str]:
    """How the project takes the template's later changes: `cruft update`, once linked."""
    if "_commit" in context:
        return [
            "Made with cruft: `cruft update` brings the template's later changes",
            '(README.md, "Keeping your project up to date").',
        ]
    answers = {key: value for key, value in context.items() if not key.startswith("_")}
    template = context.get("_template", "<template>")
    return [
        "To take the template's later changes with `cruft update` (README.md, \"Keeping your",
        'project up to date"), link the project once, with the answers it was made with:',
        "",
        f"    cruft link --no-input --extra-context {shlex.quote(json.dumps(answers))} "
        + shlex.quote(str(template)),
    ]


def is_cruft_rerun(context: Mapping[str, Any], root: Path) -> bool:
    """True when cruft regenerates the project in a scratch directory to diff against it."""
    # cruft adds `_commit`; update, diff and check render into a fresh TemporaryDirectory
    # (<tempdir>/tmpXXXXXXXX/<slug>), cruft create where the user asked.
    scratch = root.resolve().parent
    return (
        "_commit" in context
        and scratch.parent == Path(tempfile.gettempdir()).resolve()
        and scratch.name.startswith("tmp")
    )


def finish(context: Mapping[str, Any], root: Path) -> None:
    """Everything the hook does to the project in `root` generated with `context`."""
    remove_disabled(context, root)
    if is_cruft_rerun(context, root):
        return
    uv = shutil.which("uv")
    if uv is not None and not lock_skipped():
        problem = write_lock(uv, root)
        if problem is not None:
            print(f"{problem}; run `uv lock` in the project to write uv.lock.")
    print(
        next_steps(
            context,
            root,
            None if uv else find_python(context["python_version"]),
            uv=uv is not None,
            locked=(root / "uv.lock").is_file(),
        )
    )


def main() -> int:
    # cookiecutter renders this file before running it; a raw string keeps the JSON intact.
    context = json.loads(r"""{{ cookiecutter | tojson }}""")
    finish(context, Path.cwd())
    return 0


if __name__ == "__main__":
    sys.exit(main())
