"""Where the template's revisions run in the project's chain of migrations.

A project adds revisions of its own after the template's. A template revision that
arrives later (a `cruft update` bringing a new one, or a feature switched on) must run
after them: chained after an older revision it would make a second head, and placed
before one a database already applied it would never run (Alembic records only the
heads a database reached and takes all their ancestors as applied).

So a template revision does not name its parent; its file says
`down_revision = placed(revision, __file__)`, and its place is decided by the files:

- Once one of the project's revisions follows it, it stays where it stood then. The
  project's revision records that (`template_revisions = {...}`, written by
  `script.py.mako` through `frozen_by`), or, for a revision that shipped before this
  module existed, its old parent (`was_after=`) is where it stood.
- Until then it goes after every other revision: first those the project's revisions
  already follow, then the others, each in the order of their ids.

Every database reads the same files, so every database agrees on the order.
"""

import ast
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Parents = tuple[str, ...]


@dataclass(frozen=True)
class RevisionFile:
    revision: str
    # Parents as the file names them; None for a placed (template) revision.
    parents: Parents | None
    # A placed revision's parent before placement existed, if it shipped before.
    was_after: Parents | None = None
    # Where the placed revisions it follows stood when it was written.
    frozen: Mapping[str, Parents] = field(default_factory=dict)


# The directory of the last revision placed: the one `alembic revision` writes into.
_directory: Path | None = None


def placed(revision: str, revision_file: str, was_after: str | None = None) -> str | Parents | None:
    """The `down_revision` of the template revision `revision` (`revision_file`, its
    `__file__`); `was_after` is read from the file itself, with the other files."""
    global _directory
    _directory = Path(revision_file).parent
    parents = place(read_revisions(_directory))[revision]
    if not parents:
        return None
    return parents[0] if len(parents) == 1 else parents


def frozen_by(down_revision: str | Sequence[str] | None) -> dict[str, Parents]:
    """For a new revision after `down_revision`: the template revisions it follows that
    have no fixed place yet, with the parents they have now (they keep them)."""
    if _directory is None:
        return {}
    files = read_revisions(_directory)
    parents = place(files)
    fixed = _fixed(files)
    return {
        name: parents[name]
        for name in sorted(ancestors(as_parents(down_revision), parents))
        if files[name].parents is None and name not in fixed
    }


def place(files: Mapping[str, RevisionFile]) -> dict[str, Parents]:
    """Every revision's parents, the template's placed (see the module's docstring)."""
    parents: dict[str, Parents] = {
        name: file.parents for name, file in files.items() if file.parents is not None
    }
    fixed = _fixed(files)
    parents.update(fixed)
    followed = {parent for chain in parents.values() for parent in chain}
    pending = sorted(
        (name for name, file in files.items() if file.parents is None and name not in fixed),
        key=lambda name: (name not in followed, name),
    )
    for index, name in enumerate(pending):
        waiting = set(pending[index:])
        later = waiting | descendants(waiting, parents)
        candidates = [node for node in parents if node not in later]
        named = {parent for node in candidates for parent in parents[node]}
        parents[name] = tuple(sorted(node for node in candidates if node not in named))
    return parents


def _fixed(files: Mapping[str, RevisionFile]) -> dict[str, Parents]:
    """Template revisions whose place the project's revisions fixed."""
    followed = {
        parent for file in files.values() if file.parents is not None for parent in file.parents
    }
    fixed: dict[str, Parents] = {}
    for file in files.values():
        for name, parents in file.frozen.items():
            if name in files and files[name].parents is None:
                fixed.setdefault(name, parents)
    for name, file in files.items():
        if file.parents is None and file.was_after is not None and name in followed:
            fixed.setdefault(name, file.was_after)
    return fixed


def descendants(roots: set[str], parents: Mapping[str, Parents]) -> set[str]:
    """Every revision whose ancestry (as far as known) reaches one of `roots`."""
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node, chain in parents.items():
            if node not in found and any(p in roots or p in found for p in chain):
                found.add(node)
                changed = True
    return found


def ancestors(heads: Iterable[str], parents: Mapping[str, Parents]) -> set[str]:
    """`heads` and every revision before them."""
    seen: set[str] = set()
    todo = [head for head in heads if head in parents]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(parent for parent in parents[node] if parent in parents)
    return seen


def read_revisions(directory: Path) -> dict[str, RevisionFile]:
    """The revision files in `directory`, read without running them (each file once while
    it is unchanged: every placed revision Alembic loads asks for all of them)."""
    files: dict[str, RevisionFile] = {}
    for path in sorted(directory.glob("*.py")):
        stat = path.stat()
        file = _read_file(path, stat.st_mtime_ns, stat.st_size)
        if file is not None:
            files[file.revision] = file
    return files


@functools.lru_cache(maxsize=4096)
def _read_file(path: Path, mtime_ns: int, size: int) -> RevisionFile | None:
    return _read(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))


def as_parents(down_revision: object) -> Parents:
    """A `down_revision` (None, a revision, or several) as a tuple."""
    if down_revision is None:
        return ()
    if isinstance(down_revision, str):
        return (down_revision,)
    assert isinstance(down_revision, Sequence)
    return tuple(str(item) for item in down_revision)


def _read(module: ast.Module) -> RevisionFile | None:
    values: dict[str, ast.expr] = {}
    for statement in module.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if isinstance(target, ast.Name):
            values[target.id] = value
    revision = values.get("revision")
    if not isinstance(revision, ast.Constant) or not isinstance(revision.value, str):
        return None
    down = values.get("down_revision")
    if isinstance(down, ast.Call):
        was_after = next((k.value for k in down.keywords if k.arg == "was_after"), None)
        return RevisionFile(revision.value, None, _names(was_after) if was_after else None)
    frozen = values.get("template_revisions")
    return RevisionFile(
        revision.value,
        _names(down) if down is not None else (),
        frozen={
            str(name): as_parents(parents)
            for name, parents in (ast.literal_eval(frozen) if frozen else {}).items()
        },
    )


def _names(node: ast.expr) -> Parents:
    return as_parents(ast.literal_eval(node))
