"""Validate the answers before cookiecutter writes any file of the project.

Every bad answer gets one line on stderr naming the variable and its value, then the
hook exits 1; cookiecutter removes the project directory it created. The replay file
cookiecutter saved for these answers is deleted, so `--replay` never repeats them.
`validate()` is a pure function so the tests can call it directly.
"""

from __future__ import annotations

import json
import keyword
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

# The hooks run on cookiecutter's own interpreter, so its config reader is at hand.
from cookiecutter.config import get_user_config
from cookiecutter.exceptions import CookiecutterException

Context = Mapping[str, Any]

PYTHON_VERSIONS = ("3.11", "3.12", "3.13", "3.14")

# Every switch in cookiecutter.json, in prompt order.
SWITCHES = (
    "use_replica",
    "use_analytics_db",
    "use_cache",
    "use_soft_delete",
    "use_pool_monitoring",
    "use_sync_session",
    "use_metrics",
    "use_tracing",
    "use_auth",
    "use_docker",
    "use_github_actions",
)

# Import names the generated project already uses (its dependencies and its own
# top-level packages): a package of the same name would shadow them.
TAKEN_IMPORT_NAMES = frozenset(
    {
        "alembic",
        "argon2",
        "asgi_correlation_id",
        "asyncpg",
        "email_validator",
        "fastapi",
        "greenlet",
        "httpx",
        "jwt",
        "migrations",
        "multipart",
        "mypy",
        "opentelemetry",
        "prometheus_client",
        "pwdlib",
        "pydantic",
        "pydantic_settings",
        "pytest",
        "pytest_asyncio",
        "python_multipart",
        "redis",
        "ruff",
        "sqlalchemy",
        "starlette",
        "structlog",
        "tests",
        "uvicorn",
    }
)

SLUG_PATTERN = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
PACKAGE_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")
EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def check_one_line(name: str, context: Context) -> str | None:
    """A free-text answer must be one line of printable text (it lands in metadata)."""
    value = context[name]
    if not isinstance(value, str) or not value.isprintable():
        return f"{name}={value!r} must be one line of printable text"
    return None


def check_project_name(context: Context) -> str | None:
    value = context["project_name"]
    if isinstance(value, str) and not value.strip():
        return f"project_name={value!r} must not be empty"
    error = check_one_line("project_name", context)
    if error is not None:
        return error
    if '"' in value or "\\" in value:
        return f"project_name={value!r} must not contain a double quote or a backslash"
    return None


def check_project_slug(context: Context) -> str | None:
    value = context["project_slug"]
    if not isinstance(value, str) or not SLUG_PATTERN.fullmatch(value):
        return (
            f"project_slug={value!r} must be lowercase words of letters and digits "
            "joined by single hyphens, starting with a letter (e.g. my-service)"
        )
    return None


def check_package_name(context: Context) -> str | None:
    value = context["package_name"]
    if not isinstance(value, str) or not PACKAGE_PATTERN.fullmatch(value):
        return (
            f"package_name={value!r} is not a lowercase Python identifier "
            "(letters, digits and underscores, not starting with a digit)"
        )
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return f"package_name={value!r} is a Python keyword"
    if value in sys.stdlib_module_names:
        return f"package_name={value!r} would shadow the standard-library module {value}"
    if value in TAKEN_IMPORT_NAMES:
        return (
            f"package_name={value!r} would shadow a package the generated project "
            "imports (a dependency, tests or migrations)"
        )
    return None


def check_description(context: Context) -> str | None:
    return check_one_line("description", context)


def check_author_name(context: Context) -> str | None:
    return check_one_line("author_name", context)


def check_author_email(context: Context) -> str | None:
    value = context["author_email"]
    if not isinstance(value, str) or not EMAIL_PATTERN.fullmatch(value):
        return f"author_email={value!r} does not look like an email address"
    return None


def check_python_version(context: Context) -> str | None:
    value = context["python_version"]
    if not isinstance(value, str) or value not in PYTHON_VERSIONS:
        # Quoted, so a YAML config's unquoted 3.12 (a number) shows what is wrong.
        choices = ", ".join(repr(version) for version in PYTHON_VERSIONS)
        return f"python_version={value!r} is not supported; choose one of {choices}"
    return None


def check_switch(name: str, context: Context) -> str | None:
    value = context[name]
    if not isinstance(value, bool):
        return f"{name}={value!r} must be true or false"
    return None


# In prompt order, so the errors read top to bottom like the questions. A rule that
# spans several answers (one switch requiring another) is one more function at the end.
CHECKS: tuple[Callable[[Context], str | None], ...] = (
    check_project_name,
    check_project_slug,
    check_package_name,
    check_description,
    check_author_name,
    check_author_email,
    check_python_version,
    *[partial(check_switch, name) for name in SWITCHES],
)


def validate(context: Context) -> list[str]:
    """Return one error per bad answer, in prompt order; empty when all are good."""
    return [error for check in CHECKS if (error := check(context)) is not None]


def option_value(args: Sequence[str], option: str) -> str | None:
    """The value of `--option VALUE` or `--option=VALUE` in a command line."""
    for index, arg in enumerate(args):
        if arg == option and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(f"{option}="):
            return arg.removeprefix(f"{option}=")
    return None


def replay_file(context: Context, args: Sequence[str], cwd: Path) -> Path:
    """Where the cookiecutter command `args`, run in `cwd`, saved its replay of `context`."""
    config_file = option_value(args, "--config-file")
    config = get_user_config(
        config_file=None if config_file is None else str(cwd / config_file),
        default_config="--default-config" in args,
    )
    replay_dir: str = config["replay_dir"]
    template_name = Path(context["_repo_dir"]).resolve().name
    return cwd / replay_dir / f"{template_name}.json"


def parent_command() -> tuple[list[str], Path] | None:
    """The arguments of the process that started this hook, and where it was started."""
    parent = Path("/proc") / str(os.getppid())
    try:
        args = (parent / "cmdline").read_bytes().decode(errors="replace").split("\0")
        # cookiecutter has changed into the template by now; PWD is where the user was.
        cwd = Path(os.environ.get("PWD") or (parent / "cwd").resolve(strict=True))
    except OSError:
        return None
    return args, cwd


def forget_replay(context: Context) -> None:
    """Delete the replay file if it holds exactly these (rejected) answers."""
    command = parent_command()
    if command is None:
        return
    try:
        path = replay_file(context, *command)
        saved = json.loads(path.read_text(encoding="utf-8"))
    # No config or replay file where we looked: nothing of ours to delete.
    except (CookiecutterException, OSError, ValueError):
        return
    if isinstance(saved, dict) and saved.get("cookiecutter") == dict(context):
        path.unlink()


def main() -> int:
    # cookiecutter renders this file before running it; a raw string keeps the JSON intact.
    context = json.loads(r"""{{ cookiecutter | tojson }}""")
    errors = validate(context)
    for error in errors:
        print(f"ERROR: {error}", file=sys.stderr)
    if errors:
        forget_replay(context)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
