"""Validate the answers before cookiecutter writes any file of the project.

On the first bad answer this prints one line naming the variable and its value to
stderr and exits 1; cookiecutter then removes the project directory it created.
`validate()` is a pure function so the tests can call it directly.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

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
        "migrations",
        "mypy",
        "opentelemetry",
        "prometheus_client",
        "pwdlib",
        "pydantic",
        "pydantic_settings",
        "pytest",
        "pytest_asyncio",
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


def check_switches(context: Context) -> str | None:
    for name in SWITCHES:
        value = context[name]
        if not isinstance(value, bool):
            return f"{name}={value!r} must be true or false"
    return None


# In prompt order, so the error names the earliest bad answer. A rule that spans
# several answers (one switch requiring another) is one more function at the end.
CHECKS: tuple[Callable[[Context], str | None], ...] = (
    check_project_name,
    check_project_slug,
    check_package_name,
    check_description,
    check_author_name,
    check_author_email,
    check_python_version,
    check_switches,
)


def validate(context: Context) -> str | None:
    """Return the error for the first bad answer, or None when all are good."""
    for check in CHECKS:
        error = check(context)
        if error is not None:
            return error
    return None


def main() -> int:
    # cookiecutter renders this file before running it; a raw string keeps the JSON intact.
    context = json.loads(r"""{{ cookiecutter | tojson }}""")
    error = validate(context)
    if error is not None:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
