"""What a switchable part of the app is; `enabled_features.FEATURES` lists those this
project has.

A part may add middleware or routes when the app is built (`install`), add fields to every
log line (`log_processors`), and run beside the database while the app serves (`serve`, an
async context entered at startup and left at shutdown).
"""

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from fastapi import FastAPI
from structlog.typing import Processor

from .db.session import Database
from .settings import Settings

Serve = Callable[[FastAPI, Database, Settings], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class Feature:
    name: str
    install: Callable[[FastAPI], None] | None = None
    serve: Serve | None = None
    log_processors: Sequence[Processor] = ()
