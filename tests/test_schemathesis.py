"""schemathesis against the all-features project served by uvicorn: no 5xx, no timeout,
and the API accepts what /openapi.json admits and rejects what it does not.

A short run (a few examples per operation, fixed seed) to keep CI time in check; the
README of the generated project says how to run a long one. Needs what
test_generated_project.py needs (PostgreSQL, Redis, the package index).
"""

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from tests.combinations import PYTHON_SWITCHES
from tests.test_generated_project import ADMIN_SCRIPT, SERVER_URL, admin_sql, free_port

pytestmark = pytest.mark.integration

# What the schema cannot say, told to schemathesis instead:
# - unknown query parameters are ignored (as most HTTP APIs do), not rejected;
# - a fixed, valid token: schemathesis 4.32's coverage phase sends "0" for an optional
#   header whose pattern holds punctuation (`^[0-9A-F]{1,8}/[0-9A-F]{1,8}$`) and calls it
#   valid; a configured parameter (unlike -H) is left out of negative cases too;
# - no JSON Schema says "no two items share a username": such a batch is a 422.
# Its requests carry a superuser's token (use_auth is on), so the writes run; its own
# checks send them without it too, expecting a 401.
# Every check is on here: `--checks all` on the command line would also override the
# per-operation setting.
CONFIG = """
generation.allow-extra-parameters = false

[checks]
enabled = true

[parameters]
"header.X-Consistency-Token" = "0/0"

[[operations]]
include-path = "/users/bulk"
checks.positive_data_acceptance.enabled = false
"""
# - no JSON Schema says "a key is sent with one request only": a valid Idempotency-Key is
#   made unique as each request is sent, in every phase (a "0" drawn for two operations is
#   rightly a 422).
HOOKS = r"""
import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.headers and VALID_KEY.fullmatch(str(case.headers.get("Idempotency-Key", ""))):
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
"""


def run(*args: str, cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_schemathesis_finds_nothing(tmp_path: Path, cookies_session: Any) -> None:
    result = cookies_session.bake(extra_context=dict.fromkeys(PYTHON_SWITCHES, True))
    assert result.exit_code == 0, result.exception
    project: Path = result.project_path
    package = result.context["package_name"]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    run(python, "-m", "pip", "install", "-q", "-e", ".", cwd=project, env=env)

    database = f"template_st_{uuid4().hex[:12]}"
    env |= {
        "DATABASE_URL": f"{SERVER_URL}/{database}",
        "CACHE_KEY_PREFIX": database,
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_COST": "1024",
        "LOG_LEVEL": "WARNING",
        # A test value, as in the generated project's compose.yaml.
        "AUTH_SECRET_KEY": "schemathesis-only-not-a-secret-0123456789",
        "AUTH_TOKEN_TTL_SECONDS": "3600",
        "SUPERUSER_PASSWORD": "fuzzing password",
    }
    create = f'CREATE DATABASE "{database}"'
    admin_sql(Path(python), create)
    port = free_port()
    server = None
    try:
        run(python, "-m", "alembic", "upgrade", "head", cwd=project, env=env)
        # The fuzzer's own user far from the ids it tries (1, small numbers): deleting or
        # deactivating it would leave every later write a 401.
        set_sequence = "SELECT setval('users_id_seq', 1000000)"
        run(
            python,
            "-c",
            ADMIN_SCRIPT,
            f"{SERVER_URL}/{database}",
            set_sequence,
            cwd=project,
            env=env,
        )
        superuser = ["fuzzer", "--email", "fuzzer@example.com"]
        run(python, "-m", f"{package}.auth.create_superuser", *superuser, cwd=project, env=env)
        server = subprocess.Popen(
            [python, "-m", "uvicorn", f"{package}.main:app", "--port", str(port)],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{base}/health/live", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        (tmp_path / "schemathesis.toml").write_text(CONFIG)
        (tmp_path / "unique_keys.py").write_text(HOOKS)
        form = urllib.parse.urlencode({"username": "fuzzer", "password": env["SUPERUSER_PASSWORD"]})
        with urllib.request.urlopen(f"{base}/auth/token", form.encode(), timeout=10) as login:
            token = json.load(login)["access_token"]
        # Exits non-zero on any failure (a 5xx, a timeout, a response or request the schema
        # disagrees with); its report is then the assertion message.
        run(
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(tmp_path / "schemathesis.toml"),
            "run",
            f"{base}/openapi.json",
            "--max-examples",
            "10",
            "--seed",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "10",
            "--wait-for-schema",
            "60",
            "--header",
            f"Authorization: Bearer {token}",
            cwd=tmp_path,
            env=env | {"SCHEMATHESIS_HOOKS": "unique_keys", "PYTHONPATH": str(tmp_path)},
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        drop = f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'
        admin_sql(Path(python), drop)
