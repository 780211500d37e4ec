"""The scanner behind test_bake.py's test_public_apis_only finds each kind of private use."""

from pathlib import Path

import pytest

from tests.private_uses import private_uses

LIBRARY_PRIVATES = {
    "module": "from sqlalchemy.util import await_\n",
    "submodule": "from sqlalchemy.util.queue import Empty\n",
    "underscore module": "import opentelemetry._logs\n",
    "name": "from starlette.routing import _wrap\n",
    "attribute": "def f(context: object) -> object:\n    return context._otel_span\n",
    "getattr": "def f(context: object) -> object:\n    return getattr(context, '_otel_span')\n",
    "class attribute": (
        "from sqlalchemy.pool import QueuePool\n\n\n"
        "class Pool(QueuePool):\n    _queue_class = list\n"
    ),
    "override": (
        "from sqlalchemy.pool import QueuePool\n\n\n"
        "class Pool(QueuePool):\n    def _do_get(self) -> None:\n        pass\n"
    ),
    "method replacement": (
        "def f(pool: object) -> None:\n    pool.connect = print  # type: ignore[method-assign]\n"
    ),
}

OWN_CODE = """
from pkg.db import _helper
from fastapi import FastAPI


class Repository(list[int]):
    def _column(self) -> int:
        return 1

    def total(self) -> int:
        return self._column()


class Cache:
    def __init__(self) -> None:
        self._hits = 0

    def merge(self, other: "Cache") -> None:
        self._hits += other._hits


def install(app: FastAPI) -> None:
    app.openapi = lambda: {}  # type: ignore[method-assign]
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "module.py").write_text(text)
    return tmp_path


@pytest.mark.parametrize("source", LIBRARY_PRIVATES.values(), ids=LIBRARY_PRIVATES.keys())
def test_finds(tmp_path: Path, source: str) -> None:
    assert len(private_uses(write(tmp_path, source), "pkg")) == 1


def test_own_privates_and_the_openapi_override_pass(tmp_path: Path) -> None:
    assert private_uses(write(tmp_path, OWN_CODE), "pkg") == []
