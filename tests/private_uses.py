"""Finds what SPEC §10 excludes from generated code: private names of libraries.

- an import of a library module or name with a leading underscore, or of `sqlalchemy.util`;
- reading an attribute with a leading underscore (not a dunder) from anything but `self`
  or `cls`, unless the project itself defines that name (its own objects' internals);
- `getattr(x, "_name")` with a literal private name;
- replacing a method of an object (an assignment mypy only accepts with
  `# type: ignore[method-assign]`), FastAPI's documented `app.openapi` override aside;
- a class of the project that overrides a library's private attribute or method.
"""

import ast
from pathlib import Path

# Library modules that are private as a whole though their names have no underscore.
PRIVATE_MODULES = ("sqlalchemy.util",)
# The one documented method replacement (FastAPI's "Extending OpenAPI").
ALLOWED_REPLACEMENTS = ("app.openapi =",)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _library_module(module: str, package: str) -> bool:
    return module.split(".")[0] != package


def _definitions(trees: dict[Path, ast.Module]) -> tuple[set[str], set[str], set[str]]:
    """In one walk: the private names the project defines (functions, classes, attributes,
    variables), its class names, and the private names it calls on `self` or `cls`."""
    names: set[str] = set()
    classes: set[str] = set()
    called: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.ClassDef):
                names.add(node.name)
                classes.add(node.name)
            elif isinstance(node, ast.Attribute):
                if isinstance(node.ctx, ast.Store):
                    names.add(node.attr)
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    called.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return {name for name in names if _private(name)}, classes, called


def _import_findings(node: ast.AST, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [
            f"import {alias.name}"
            for alias in node.names
            if _library_module(alias.name, package)
            and (
                any(_private(part) for part in alias.name.split("."))
                or alias.name.startswith(PRIVATE_MODULES)
            )
        ]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        module = node.module
        if not _library_module(module, package):
            return []
        if any(_private(part) for part in module.split(".")) or module.startswith(PRIVATE_MODULES):
            return [f"from {module} import ..."]
        return [f"from {module} import {a.name}" for a in node.names if _private(a.name)]
    return []


def _class_overrides(node: ast.ClassDef, own_classes: set[str], called: set[str]) -> list[str]:
    """Private attributes a class sets, and private methods it defines that nothing of the
    project calls (so the library does), while deriving from a library class."""
    bases = [ast.unparse(base) for base in node.bases]
    if not bases or all(base.split(".")[-1] in own_classes for base in bases):
        return []
    targets: list[str] = []
    for statement in node.body:
        if isinstance(statement, ast.Assign):
            targets += [t.id for t in statement.targets if isinstance(t, ast.Name)]
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            targets.append(statement.target.id)
        # A decorated method (a validator, a listener) is registered, not overridden.
        elif (
            isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef)
            and not statement.decorator_list
            and statement.name not in called
        ):
            targets.append(statement.name)
    return [f"class {node.name}({', '.join(bases)}) sets {t}" for t in targets if _private(t)]


def private_uses(root: Path, package: str) -> list[str]:
    """`path:line: what` for every private use in the Python files under `root`."""
    trees = {
        path: ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for path in sorted(root.rglob("*.py"))
        if ".venv" not in path.parts
    }
    # Private names the project's own code calls as methods of its objects: `called`.
    own, own_classes, called = _definitions(trees)
    findings: list[str] = []
    for path, tree in trees.items():
        where = path.relative_to(root)
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(tree):
            found = _import_findings(node, package)
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                owner = node.value
                if (
                    _private(node.attr)
                    and node.attr not in own
                    and not (isinstance(owner, ast.Name) and owner.id in ("self", "cls"))
                ):
                    found.append(f"reads {ast.unparse(node)}")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
            ):
                name = node.args[1] if len(node.args) > 1 else None
                if (
                    isinstance(name, ast.Constant)
                    and isinstance(name.value, str)
                    and _private(name.value)
                ):
                    found.append(f"getattr(..., {name.value!r})")
            elif isinstance(node, ast.ClassDef):
                found += _class_overrides(node, own_classes, called)
            line = getattr(node, "lineno", 0)
            findings += [f"{where}:{line}: {what}" for what in found]
        for number, text in enumerate(lines, start=1):
            if "method-assign" in text and not text.strip().startswith(ALLOWED_REPLACEMENTS):
                findings.append(f"{where}:{number}: replaces a method: {text.strip()}")
    return sorted(set(findings))
