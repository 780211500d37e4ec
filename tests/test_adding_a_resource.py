"""The generated README's "Adding a resource" walkthrough, followed as a user would.

A project (all features off; all of them on) is baked and installed into the worker's
venv. Each fenced block of the README section goes where its bold "**N. Title**
(`path`)" heading says: a new file, an existing module (`api/deps.py`, the API contract),
the shell. This test knows only the list of steps (PLAN: where each block goes; and what
the prose asks beyond the blocks, done here: the exports and the router); the code and
the commands come from the README, so a README edit that breaks the example fails here.
Then the checks the section ends with, the project's pytest narrowed to the tests the
example touches (test_generated_project.py runs the whole suite). Needs what
test_generated_project.py needs (PostgreSQL, Redis, the package index).
"""

import ast
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.test_generated_project import (
    FEATURE_SWITCHES,
    Project,
    context_id,
    installed_project,
    output,
)

pytestmark = pytest.mark.integration

SECTION = "## Adding a resource"
# "**1. Model** (`my_service/models/tag.py`). ..." or "**2. Migration.** ..."
HEADING = re.compile(
    r"^\*\*(?P<number>\d+)\. (?P<title>[^*]+?)\.?\*\*(?: \(`(?P<path>[^`]+)`)?", re.MULTILINE
)
FENCE = re.compile(r"^```(?P<language>\w*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
# "Then `ruff check . && ... && pytest`."
CLOSING = re.compile(r"^Then `(?P<commands>[^`]+)`", re.MULTILINE)


@dataclass(frozen=True)
class AddTo:
    """A block added to an existing module: at its end (its imports among the module's
    imports), or, with `entries_of`, as entries at the end of that dict."""

    path: str
    entries_of: str | None = None


# Where each block of a step goes, in the README's order: the file the step's heading
# names, the shell, or an existing module.
NEW_FILE = "new file"
SHELL = "shell"
PLAN: dict[str, list[str | AddTo]] = {
    "Model": [NEW_FILE],
    "Migration": [SHELL],
    "Repository": [NEW_FILE],
    "Schemas": [NEW_FILE],
    "Service": [NEW_FILE, AddTo("api/deps.py")],
    "Routes": [NEW_FILE],
    "Tests": [NEW_FILE, AddTo("tests/api/test_openapi.py", entries_of="CONTRACT")],
}
# What the prose asks besides the blocks: the package modules that export a step's classes
# (import and `__all__`), and the step whose router `main.py` includes.
EXPORTED_FROM = {"Model": "models/__init__.py", "Repository": "repositories/__init__.py"}
ROUTER_STEP = "Routes"
# The commands the README gives; a change there is a change to what this test checks.
MIGRATION_COMMANDS = [
    ["alembic", "revision", "--autogenerate", "-m", "add tags"],
    ["alembic", "upgrade", "head"],
    ["alembic", "check"],
]
CLOSING_COMMANDS = [
    ["ruff", "check", "."],
    ["ruff", "format", "--check", "."],
    ["mypy", "--strict", "."],
    ["pytest"],
]
# The project's pytest, narrowed to a few seconds: the new tests, the API contract, and
# pytest-alembic's checks that every revision, the new one too, goes down and up again on
# a single head (the rest of test_migrations.py takes 15 s and tests the command line;
# test_generated_project.py runs the whole suite).
PYTEST_PATHS = [
    "tests/api/test_tags.py",
    "tests/api/test_openapi.py",
    "tests/test_migrations.py::test_single_head_revision",
    "tests/test_migrations.py::test_up_down_consistency",
]


@dataclass
class Step:
    number: int
    title: str
    path: str | None
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (language, code)


def read_section(readme: str) -> tuple[list[Step], list[list[str]]]:
    """The section's steps with their fenced blocks, and the commands of its closing line."""
    start = readme.index(f"\n{SECTION}\n")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end != -1 else len(readme)]
    headings = list(HEADING.finditer(section))
    steps = []
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        body = section[heading.end() : following.start() if following else len(section)]
        steps.append(
            Step(
                int(heading["number"]),
                heading["title"],
                heading["path"],
                [(fence["language"], fence["code"]) for fence in FENCE.finditer(body)],
            )
        )
    closing = CLOSING.search(section)
    assert closing, f"no closing 'Then `...`' line in:\n{section}"
    commands = [shlex.split(command) for command in closing["commands"].split("&&")]
    return steps, commands


def resolve(project: Path, package: Path, path: str) -> Path:
    """A path as the README writes it: from the project root (`tests/...`, the package
    directory itself) or from the package (`api/deps.py`); the directory must exist."""
    candidates = [base / path for base in (project, package) if (base / path).parent.is_dir()]
    assert len(candidates) == 1, f"{path}: {candidates}"
    return candidates[0]


def add_import(source: str, statement: str) -> str:
    """`source` with a `from ... import ...` statement among its imports of the same
    relative level, where isort puts it (by module name)."""
    new = ast.parse(statement).body[0]
    assert isinstance(new, ast.ImportFrom), statement
    peers = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ImportFrom) and node.level == new.level
    ]
    assert peers, f"no import of level {new.level} to put {statement!r} next to"
    later = [node for node in peers if (node.module or "").lower() > (new.module or "").lower()]
    index = later[0].lineno - 1 if later else peers[-1].end_lineno
    assert index is not None
    lines = source.splitlines(keepends=True)
    lines.insert(index, statement + "\n")
    return "".join(lines)


def add_imported_name(source: str, module: str, name: str) -> str:
    """`source` with `name` added to its one-line `from <module> import ...`."""
    node = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ImportFrom) and "." * node.level + (node.module or "") == module
    )
    assert node.lineno == node.end_lineno
    assert not any(alias.asname for alias in node.names)
    names = sorted([*(alias.name for alias in node.names), name])
    lines = source.splitlines(keepends=True)
    lines[node.lineno - 1] = f"from {module} import {', '.join(names)}\n"
    return "".join(lines)


def dunder_all_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then the rest."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def add_to_all(source: str, names: list[str]) -> str:
    """`source` with `names` in its `__all__` list, kept sorted and in the list's layout."""
    node = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets)
    )
    assert isinstance(node.value, ast.List)
    assert node.end_lineno is not None
    existing = [
        element.value
        for element in node.value.elts
        if isinstance(element, ast.Constant) and isinstance(element.value, str)
    ]
    assert len(existing) == len(node.value.elts), "__all__ holds only strings"
    items = sorted([*existing, *names], key=dunder_all_key)
    text = "__all__ = [" + ", ".join(f'"{item}"' for item in items) + "]\n"
    if node.end_lineno > node.lineno or len(text) > 100:
        text = "__all__ = [\n" + "".join(f'    "{item}",\n' for item in items) + "]\n"
    lines = source.splitlines(keepends=True)
    lines[node.lineno - 1 : node.end_lineno] = [text]
    return "".join(lines)


def add_code(source: str, code: str) -> str:
    """`source` with a README block added as a user adds it: its imports among the
    module's imports, the rest at the end of the module."""
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    imports: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            assert node.end_lineno is not None
            source = add_import(source, "".join(lines[node.lineno - 1 : node.end_lineno]).strip())
            imports.update(range(node.lineno - 1, node.end_lineno))
    rest = "".join(line for number, line in enumerate(lines) if number not in imports)
    return source.rstrip("\n") + "\n\n\n" + rest.strip("\n") + "\n"


def add_entries(source: str, name: str, code: str) -> str:
    """`source` with `code`, dict entries, at the end of the dict assigned to `name`."""
    assert isinstance(ast.parse("{\n" + code + "}", mode="eval").body, ast.Dict), code
    node = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and any(
            isinstance(target, ast.Name) and target.id == name
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    )
    assert isinstance(node.value, ast.Dict)
    assert node.end_lineno is not None
    lines = source.splitlines(keepends=True)
    assert lines[node.end_lineno - 1] == "}\n", lines[node.end_lineno - 1]
    lines.insert(node.end_lineno - 1, code)
    return "".join(lines)


def class_names(code: str) -> list[str]:
    return [node.name for node in ast.parse(code).body if isinstance(node, ast.ClassDef)]


def naming_rule(comment: str) -> re.Pattern[str]:
    """The file name the README's `# migrations/versions/<date>_<rev>_add_tags.py` states."""
    name = Path(comment.strip()).name
    pattern = re.escape(name).replace("<date>", r"\d{8}").replace("<rev>", r"(?P<rev>[0-9a-f]+)")
    return re.compile(pattern)


def migrate(project: Project, code: str) -> None:
    """Run the README's migration commands; the new revision must be named as it says and
    create the table."""
    lines = [line for line in code.splitlines() if line.strip()]
    assert [shlex.split(line, comments=True) for line in lines] == MIGRATION_COMMANDS, code
    (comment,) = [line.partition("#")[2] for line in lines if "--autogenerate" in line]
    rule = naming_rule(comment)
    versions = project.path / "migrations" / "versions"
    before = set(versions.glob("*.py"))
    for line in lines:
        result = project.run(*shlex.split(line, comments=True))
        assert result.returncode == 0, output(result)
    (revision,) = set(versions.glob("*.py")) - before
    name = rule.fullmatch(revision.name)
    assert name, f"{revision.name} does not follow {comment.strip()!r}"
    text = revision.read_text("utf-8")
    assert re.search(rf"^revision(: str)? = ['\"]{name['rev']}['\"]$", text, re.MULTILINE), text
    assert re.search(r"create_table\(\s*['\"]tags['\"]", text), text


# All features off, all on; on one worker, in turn, for the shared mypy cache.
CONTEXTS = [
    pytest.param(context, id=context_id(context), marks=pytest.mark.xdist_group("resource"))
    for context in [{}, dict.fromkeys(FEATURE_SWITCHES, True)]
]


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for both projects: the second checks only its own modules again."""
    return tmp_path_factory.mktemp("mypy-cache")


@pytest.mark.parametrize("context", CONTEXTS)
def test_adding_a_resource(
    context: dict[str, bool],
    cookies_session: Any,
    venv: tuple[Path, dict[str, str]],
    default_context: dict[str, Any],
    mypy_cache: Path,
) -> None:
    with installed_project(cookies_session, venv, context) as project:
        package = project.path / default_context["package_name"]
        steps, closing = read_section((project.path / "README.md").read_text("utf-8"))
        plan = [(step.number, step.title, len(step.blocks)) for step in steps]
        expected = [
            (number, title, len(blocks))
            for number, (title, blocks) in enumerate(PLAN.items(), start=1)
        ]
        assert plan == expected, steps
        assert closing == CLOSING_COMMANDS, closing

        # The database as a user's stands when they start: migrated.
        result = project.run("alembic", "upgrade", "head")
        assert result.returncode == 0, output(result)
        for step in steps:
            for (language, code), destination in zip(step.blocks, PLAN[step.title], strict=True):
                if destination == SHELL:
                    assert language == "bash", step
                    migrate(project, code)
                    continue
                assert language == "python", step
                if destination == NEW_FILE:
                    assert step.path, step
                    target = resolve(project.path, package, step.path)
                    assert not target.exists(), target
                    target.write_text(code, "utf-8")
                else:
                    assert isinstance(destination, AddTo), destination
                    target = resolve(project.path, package, destination.path)
                    source = target.read_text("utf-8")
                    if destination.entries_of:
                        source = add_entries(source, destination.entries_of, code)
                    else:
                        source = add_code(source, code)
                    target.write_text(source, "utf-8")
            if step.title in EXPORTED_FROM:
                assert step.path, step
                exports = resolve(project.path, package, EXPORTED_FROM[step.title])
                names = class_names(step.blocks[0][1])
                source = add_import(
                    exports.read_text("utf-8"),
                    f"from .{Path(step.path).stem} import {', '.join(names)}",
                )
                exports.write_text(add_to_all(source, names), "utf-8")
            if step.title == ROUTER_STEP:
                assert step.path, step
                module = Path(step.path).stem
                main = package / "main.py"
                source = add_imported_name(main.read_text("utf-8"), ".api.routes", module)
                *_, last = re.finditer(r"^( *)app\.include_router\(.*\)\n", source, re.MULTILINE)
                source = (
                    f"{source[: last.end()]}{last[1]}app.include_router({module}.router)\n"
                    f"{source[last.end() :]}"
                )
                main.write_text(source, "utf-8")

        for command in closing:
            if command[0] == "mypy":
                command = [*command[:-1], "--cache-dir", str(mypy_cache), command[-1]]
            elif command == ["pytest"]:
                command = ["pytest", "-q", *PYTEST_PATHS]
            result = project.run(*command)
            assert result.returncode == 0, output(result)
