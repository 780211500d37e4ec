"""Bake, install, migrate, seed, serve and load the apps; collect one record per wrk run."""

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hooks.pre_gen_project import SWITCHES

from . import report

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
BENCHMARKS_DIR = Path(__file__).resolve().parent
WRK_DIR = BENCHMARKS_DIR / "wrk"
ADMIN_SCRIPT = BENCHMARKS_DIR / "admin.py"

# Switches that change the service (compose files and CI workflows do not).
SERVICE_SWITCHES = tuple(
    name for name in SWITCHES if name not in ("use_docker", "use_github_actions")
)
REFERENCES = {
    "constant": "benchmarks.apps.constant:app",
    "asyncpg": "benchmarks.apps.raw_asyncpg:app",
    "orm": "benchmarks.apps.orm:app",
}
# Clients searching all along in the get_under_search scenario.
SEARCHERS = 8
# name -> what is requested; the Lua script of the same name builds the requests.
SCENARIOS = {
    "get": "GET /users/{id}, uncached",
    "get_cached": "GET /users/{id}, cache hit",
    "list": "GET /users?limit=100",
    "keyset_last": "GET /users?after=<last page>&limit=100",
    "skip_last": "GET /users?skip=<last page, at most 10000>&limit=100",
    "details": "GET /users/{id}/details",
    "stats": "GET /users/stats",
    "search": "GET /users/search?q=<no match>&limit=20",
    "get_under_search": f"GET /users/{{id}}, uncached, while {SEARCHERS} clients search",
    "create_post": "POST /users/{id}/posts",
    "create_post_keyed": "POST /users/{id}/posts with an Idempotency-Key",
    "create_user": "POST /users",
    "create_user_keyed": "POST /users with an Idempotency-Key",
    "bulk_create": f"POST /users/bulk ({report.BULK} users)",
}
# Scenarios the reference apps do not implement.
REFERENCE_SKIPS = {
    "get_cached",
    "details",
    "search",
    "get_under_search",
    "create_post_keyed",
    "create_user_keyed",
}
# Scenarios whose requests another scenario's script builds.
SCRIPTS = {"get_under_search": "get"}
# Scenarios served from the 1,000,000-user database with --million.
MILLION_SCENARIOS = (
    "get",
    "list",
    "keyset_last",
    "skip_last",
    "search",
    "stats",
    "get_under_search",
)
MILLION = 1_000_000
HOT_USERS = 100
# The cheapest Argon2id the projects accept: the database path is what is compared.
CHEAP_HASHING = {
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_MEMORY_COST": "8",
    "PASSWORD_HASH_PARALLELISM": "1",
}
# Variables of the developer's shell that would point a server somewhere else.
DATABASE_VARIABLES = (
    "DATABASE_URL",
    "ASYNC_DATABASE_URL",
    "MIGRATION_DATABASE_URL",
    "REPLICA_DATABASE_URL",
    "ANALYTICS_DATABASE_URL",
)
STARTUP_TIMEOUT = 60.0
# Longest wait for a server to finish the requests a run left in flight.
SETTLE_TIMEOUT = 60.0
# Longest wait for the hot users to be cached before a cached-read run.
PREPARE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Bake:
    name: str
    switches: dict[str, bool]
    # A git revision of this repository to bake from (`all@72e3e68`), else the work tree.
    revision: str | None = None

    @property
    def has_cache(self) -> bool:
        return self.switches["use_cache"]

    @property
    def has_auth(self) -> bool:
        return self.switches.get("use_auth", False)


@dataclass(frozen=True)
class Config:
    bakes: list[Bake]
    references: list[str]
    scenarios: list[str]
    concurrency: list[int]
    rounds: int
    duration: int
    users: int
    million: bool
    variants: list[tuple[str, dict[str, str]]]
    json_path: Path | None
    workdir: Path
    database_server: str
    redis_url: str


@dataclass
class App:
    name: str
    python: Path
    target: str
    cwd: Path
    env: dict[str, str]
    scenarios: list[str]
    users: int
    cache_prefix: str | None = None
    # With authentication: writes are sent with a superuser's token (`log_in`).
    auth: bool = False
    token: str | None = None
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float = 0.0
    log: Path = field(default_factory=Path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def parse_bakes(names: list[str]) -> list[Bake]:
    """`defaults`, `all`, or switch names (without `use_`) joined by `+`; each may end in
    `@<git revision>` to bake the template as it was there (a before/after in one run)."""
    bakes = []
    for name in names:
        switches_name, _, revision = name.partition("@")
        switches = dict.fromkeys(SERVICE_SWITCHES, switches_name == "all")
        if switches_name not in ("defaults", "all"):
            for part in switches_name.split("+"):
                if f"use_{part}" not in SERVICE_SWITCHES:
                    known = ", ".join(switch.removeprefix("use_") for switch in SERVICE_SWITCHES)
                    raise ValueError(f"unknown switch {part!r} in bake {name!r} (known: {known})")
                switches[f"use_{part}"] = True
        bakes.append(Bake(name, switches, revision or None))
    return bakes


def parse_variant(spec: str) -> tuple[str, dict[str, str]]:
    """`label:NAME=VALUE,NAME=VALUE` -> (label, environment)."""
    label, _, assignments = spec.partition(":")
    env = dict(item.split("=", 1) for item in assignments.split(",") if "=" in item)
    if not label or not env:
        raise ValueError(f"variant {spec!r} is not LABEL:NAME=VALUE[,NAME=VALUE...]")
    return label, env


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def check(command: list[str], **kwargs: Any) -> str:
    """Run a command; on failure raise with its output, which says what went wrong."""
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    output: str = result.stdout
    return output


def slug(name: str) -> str:
    return "".join(char if char.isalnum() else "_" for char in name.lower())


# --- projects ---------------------------------------------------------------------------


def template_at(config: Config, revision: str | None) -> Path:
    """This template, or a copy of it as committed at `revision` (`git archive`)."""
    if revision is None:
        return TEMPLATE_DIR
    copy = config.workdir / "templates" / slug(revision)
    if not copy.exists():
        partial = copy.with_name(copy.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(TEMPLATE_DIR), "archive", revision],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(partial)], input=archive, check=True)
        partial.rename(copy)
    return copy


def bake(config: Config, bake: Bake) -> tuple[Path, Path, str]:
    """Bake the project and install it into a venv of its own (reused while its
    pyproject.toml is unchanged); returns project dir, venv python, package name."""
    home = config.workdir / slug(bake.name)
    output = home / "project"
    shutil.rmtree(output, ignore_errors=True)
    package = f"bench_{slug(bake.name)}"
    project_slug = package.replace("_", "-")
    switches = {**bake.switches, "use_docker": False, "use_github_actions": False}
    answers = [
        f"project_name=Bench {bake.name}",
        f"project_slug={project_slug}",
        f"package_name={package}",
        *(f"{name}={str(value).lower()}" for name, value in switches.items()),
    ]
    # The CLI in a subprocess: the hook's "next steps" stay out of the report on stdout.
    cli = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(output)]
    # The venv below installs what pyproject.toml asks for: no lock needed.
    env = {**os.environ, "SKIP_UV_LOCK": "1"}
    check([*cli, str(template_at(config, bake.revision)), *answers], env=env)
    project = output / project_slug
    venv = home / "venv"
    python = venv / "bin" / "python"
    stamp = venv / "bench-stamp"
    wanted = hashlib.sha256((project / "pyproject.toml").read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == wanted):
        log(f"installing {bake.name} into {venv}")
        shutil.rmtree(venv, ignore_errors=True)
        check([sys.executable, "-m", "venv", str(venv)])
        check([str(python), "-m", "pip", "install", "-q", "-e", str(project)])
        stamp.write_text(wanted)
    else:
        check([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(project)])
    return project, python, package


def clean_env(**values: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in DATABASE_VARIABLES}
    env.update(values)
    return env


def admin(python: Path, *arguments: str) -> str:
    return check([str(python), str(ADMIN_SCRIPT), *arguments]).strip()


def database_url(config: Config, name: str) -> str:
    return f"{config.database_server}/{name}"


def fresh_database(config: Config, python: Path, name: str) -> None:
    postgres = database_url(config, "postgres")
    admin(python, "sql", postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(python, "sql", postgres, f'CREATE DATABASE "{name}"')


def migrate(project: Path, python: Path, url: str) -> None:
    check(
        [str(python), "-m", "alembic", "upgrade", "head"],
        cwd=project,
        env=clean_env(DATABASE_URL=url),
    )


def seed(python: Path, url: str, users: int, posts_per_user: int) -> None:
    """Users (and posts) written by the server itself, in a few seconds even for a million."""
    admin(
        python,
        "sql",
        url,
        "INSERT INTO users (username, email, full_name, hashed_password)"
        " SELECT 'user' || i, 'user' || i || '@example.com', 'User ' || i, 'not a hash'"
        f" FROM generate_series(1, {users}) AS i",
    )
    if posts_per_user:
        admin(
            python,
            "sql",
            url,
            "INSERT INTO posts (author_id, title, body, published)"
            " SELECT users.id, 'Post ' || n, 'The body of a post.', true"
            f" FROM users, generate_series(1, {posts_per_user}) AS n",
        )
    admin(python, "sql", url, "ANALYZE")


def million_database(config: Config, project: Path, python: Path, keep: set[str]) -> str:
    """The 1,000,000-user database, kept between runs; its name follows the migrations
    that made it, so a changed schema gets a new one (and the old ones, except those in
    `keep`, are dropped)."""
    migrations = project / "migrations" / "versions"
    digest = hashlib.sha256()
    for path in sorted(migrations.glob("*.py")):
        digest.update(path.read_bytes())
    name = f"bench_million_{digest.hexdigest()[:8]}"
    url = database_url(config, name)
    postgres = database_url(config, "postgres")
    exists = admin(python, "sql", postgres, f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    if exists and admin(python, "sql", url, "SELECT count(*) FROM users") == str(MILLION):
        return name
    stale = admin(
        python,
        "sql",
        postgres,
        "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE 'bench\\_million\\_%'",
    )
    for old in set(stale.split()) - keep:
        admin(python, "sql", postgres, f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
    log(f"seeding {MILLION:,} users into {name} (once)")
    fresh_database(config, python, name)
    migrate(project, python, url)
    seed(python, url, MILLION, posts_per_user=0)
    return name


# --- servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http(method: str, url: str) -> int:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def start(app: App, logs: Path) -> None:
    """Start uvicorn as the benchmark asks of everyone; time to the first answered GET."""
    app.port = free_port()
    app.log = logs / f"{slug(app.name)}.log"
    command = [
        str(app.python),
        "-m",
        "uvicorn",
        app.target,
        "--host",
        "127.0.0.1",
        "--port",
        str(app.port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    began = time.perf_counter()
    with app.log.open("wb") as output:
        app.process = subprocess.Popen(
            command, cwd=app.cwd, env=app.env, stdout=output, stderr=subprocess.STDOUT
        )
    while time.perf_counter() - began < STARTUP_TIMEOUT:
        if app.process.poll() is not None:
            raise RuntimeError(f"{app.name} exited at startup:\n{app.log.read_text()}")
        with contextlib.suppress(OSError):
            if http("GET", f"{app.url}/users/1") == 200:
                app.startup_seconds = time.perf_counter() - began
                return
        time.sleep(0.01)
    raise RuntimeError(
        f"{app.name} answered no GET within {STARTUP_TIMEOUT} s:\n{app.log.read_text()}"
    )


def log_in(app: App) -> None:
    """A superuser's bearer token for the writes: signed up, promoted in SQL, logged in."""
    name = f"bench_admin_{secrets.token_hex(4)}"
    password = secrets.token_hex(16)
    user = {"username": name, "email": f"{name}@example.com", "password": password}
    request = urllib.request.Request(
        f"{app.url}/users",
        data=json.dumps(user).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
    promote = f"UPDATE users SET is_superuser = true WHERE username = '{name}'"
    admin(app.python, "sql", app.env["DATABASE_URL"], promote)
    form = urllib.parse.urlencode({"username": name, "password": password}).encode()
    with urllib.request.urlopen(f"{app.url}/auth/token", data=form, timeout=10) as response:
        app.token = json.load(response)["access_token"]


def stop(app: App) -> None:
    if app.process is not None and app.process.poll() is None:
        app.process.send_signal(signal.SIGINT)
        try:
            app.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app.process.kill()
            app.process.wait()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of the process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- load -------------------------------------------------------------------------------


def wrk_script(scenario: str, users: int, workdir: Path, token: str | None = None) -> Path:
    header = (
        f"USERS = {users}\nHOT = {HOT_USERS}\nBULK = {report.BULK}\n"
        f'RUN = "b{secrets.token_hex(5)}"\nmath.randomseed({secrets.randbits(31)})\n'
        f"TOKEN = {json.dumps(token) if token else 'nil'}\n"
    )
    parts = [header, (WRK_DIR / f"{SCRIPTS.get(scenario, scenario)}.lua").read_text()]
    if scenario.startswith("get"):
        parts.append((WRK_DIR / "counting.lua").read_text())
    parts.append((WRK_DIR / "report.lua").read_text())
    path = workdir / "wrk" / f"{scenario}.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts))
    return path


def cached(url: str) -> bool:
    """Whether `GET url` was answered from the cache (`X-Cache: hit`)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return bool(response.headers.get("X-Cache") == "hit")


def prepare(app: App, scenario: str, redis_python: Path | None, redis_url: str) -> None:
    """A cold cache before the uncached GET; before the cached one, the hot users read until
    the cache holds each (emptying Redis drops the namespace's seal: the service takes no
    fill until its guard seals again, within a second)."""
    if app.cache_prefix is None or redis_python is None:
        return
    if scenario in ("get", "get_cached", "get_under_search"):
        admin(redis_python, "clear-redis", redis_url, app.cache_prefix)
    if scenario == "get_cached":
        cold = [f"{app.url}/users/{user_id}" for user_id in range(1, HOT_USERS + 1)]
        deadline = time.monotonic() + PREPARE_TIMEOUT
        while cold and time.monotonic() < deadline:
            # A miss fills the entry (once the namespace is sealed): the next round hits.
            cold = [url for url in cold if not cached(url)]
            if cold:
                time.sleep(0.1)


def settle(pid: int, *, idle_share: float = 0.05, window: float = 0.25) -> float:
    """Wait (at most SETTLE_TIMEOUT) until the server is idle: requests still in flight when
    wrk stopped (256 bulk sign-ups hash for a while) would otherwise load the next run,
    whichever app it measures. Returns the seconds waited."""
    began = time.perf_counter()
    while time.perf_counter() - began < SETTLE_TIMEOUT:
        before = cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - before <= idle_share * window:
            break
    return time.perf_counter() - began


def wrk_command(concurrency: int, duration: int, script: Path) -> list[str]:
    return [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
    ]


# Statements still running on the server, other than the one asking.
ACTIVE_STATEMENTS = (
    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
)


def settle_database(app: App, config: Config) -> float:
    """Wait (at most SETTLE_TIMEOUT) until the database server runs no statement: queries a
    run left behind (a search over a million rows outlives its client) would otherwise
    load the next run. Returns the seconds waited."""
    began = time.perf_counter()
    url = database_url(config, "postgres")
    while time.perf_counter() - began < SETTLE_TIMEOUT:
        if admin(app.python, "sql", url, ACTIVE_STATEMENTS) == "0":
            break
        time.sleep(0.25)
    return time.perf_counter() - began


def load(app: App, scenario: str, concurrency: int, config: Config) -> dict[str, Any]:
    assert app.process is not None
    script = wrk_script(scenario, app.users, config.workdir, app.token)
    pid = app.process.pid
    cpu_before = cpu_seconds(pid)
    searchers = None
    if scenario == "get_under_search":
        # Searches all along, on connections of their own; only the reads are measured.
        search = wrk_script("search", app.users, config.workdir)
        searchers = subprocess.Popen(
            [*wrk_command(SEARCHERS, config.duration + 2, search), app.url],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(1)
    try:
        output = check([*wrk_command(concurrency, config.duration, script), app.url])
    finally:
        if searchers is not None:
            searchers.wait(timeout=config.duration + 30)
    cpu = cpu_seconds(pid) - cpu_before
    settle(pid)
    settle_database(app, config)
    line = next(line for line in output.splitlines() if line.startswith("BENCH_RESULT "))
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    requests = max(raw["requests"], 1)
    return {
        "app": app.name,
        "scenario": scenario,
        "concurrency": concurrency,
        "requests": raw["requests"],
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "non2xx": raw["non2xx"],
        "socket_errors": raw["socket_errors"],
        "cpu_ms_per_request": cpu * 1000 / requests,
        "peak_rss_mib": peak_rss_mib(pid),
        "cache_hit_ratio": (
            raw["cache_hits"] / requests
            if app.cache_prefix and scenario.startswith("get")
            else None
        ),
    }


# --- the run ----------------------------------------------------------------------------


def wrk_available() -> None:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not on PATH (Debian/Ubuntu: apt-get install wrk)")


@contextlib.contextmanager
def serving(apps: list[App], logs: Path) -> Iterator[None]:
    try:
        for app in apps:
            start(app, logs)
            log(f"{app.name} answered after {app.startup_seconds:.2f} s on {app.url}")
            if app.auth:
                log_in(app)
        yield
    finally:
        for app in apps:
            stop(app)


def build_apps(config: Config) -> tuple[list[App], list[str], Path | None]:
    """The apps, the databases they use (dropped at the end), and a Python with redis."""
    apps: list[App] = []
    databases: list[str] = []
    redis_python: Path | None = None
    token = secrets.token_hex(4)
    first: tuple[Path, Path] | None = None
    # The 1,000,000-user databases this run uses (one per schema).
    millions: set[str] = set()
    for bake_ in config.bakes:
        log(f"baking {bake_.name}")
        project, python, package = bake(config, bake_)
        first = first or (project, python)
        # Unique per run: two runs (or a run and the smoke test) never share a database.
        name = f"bench_{slug(bake_.name)}_{token}"
        url = database_url(config, name)
        fresh_database(config, python, name)
        databases.append(name)
        migrate(project, python, url)
        seed(python, url, config.users, posts_per_user=3)
        env = clean_env(DATABASE_URL=url, LOG_LEVEL="WARNING", **CHEAP_HASHING)
        prefix = None
        if bake_.has_cache:
            prefix = f"bench:{slug(bake_.name)}:{token}:"
            env.update(REDIS_URL=config.redis_url, CACHE_KEY_PREFIX=prefix)
            redis_python = python
        if bake_.has_auth:
            # A day: no token expires during a run.
            env.update(AUTH_SECRET_KEY=secrets.token_hex(32), AUTH_TOKEN_TTL_SECONDS="86400")
        scenarios = [s for s in config.scenarios if s != "get_cached" or bake_.has_cache]
        apps.append(
            App(
                bake_.name,
                python,
                f"{package}.main:app",
                project,
                env,
                scenarios,
                config.users,
                prefix,
                auth=bake_.has_auth,
            )
        )
        if bake_ is config.bakes[0]:
            for label, extra in config.variants:
                apps.append(
                    App(
                        f"{bake_.name} {label}",
                        python,
                        f"{package}.main:app",
                        project,
                        dict(env, **extra),
                        scenarios,
                        config.users,
                        prefix,
                        auth=bake_.has_auth,
                    )
                )
        if config.million:
            million = million_database(config, project, python, keep=millions)
            millions.add(million)
            million_prefix = prefix and f"{prefix}1m:"
            env_million = dict(env, DATABASE_URL=database_url(config, million))
            if million_prefix:
                env_million["CACHE_KEY_PREFIX"] = million_prefix
            apps.append(
                App(
                    f"{bake_.name} @1M",
                    python,
                    f"{package}.main:app",
                    project,
                    env_million,
                    [s for s in MILLION_SCENARIOS if s in config.scenarios],
                    MILLION,
                    million_prefix,
                    auth=bake_.has_auth,
                )
            )
    if first is None:
        raise RuntimeError("no bake chosen: the references need a baked project's schema")
    project, python = first
    if config.references:
        name = f"bench_reference_{token}"
        url = database_url(config, name)
        fresh_database(config, python, name)
        databases.append(name)
        migrate(project, python, url)
        seed(python, url, config.users, posts_per_user=3)
        for reference in config.references:
            scenarios = [s for s in config.scenarios if s not in REFERENCE_SKIPS]
            env = clean_env(BENCH_DATABASE_URL=url)
            apps.append(
                App(
                    reference,
                    python,
                    REFERENCES[reference],
                    TEMPLATE_DIR,
                    env,
                    scenarios,
                    config.users,
                )
            )
    return apps, databases, redis_python


def run(config: Config) -> int:
    wrk_available()
    config.workdir.mkdir(parents=True, exist_ok=True)
    logs = config.workdir / "logs"
    logs.mkdir(exist_ok=True)
    apps, databases, redis_python = build_apps(config)
    records: list[dict[str, Any]] = []
    try:
        with serving(apps, logs):
            for round_ in range(config.rounds):
                # Rotate the order each round: no app is always the first after a pause.
                order = apps[round_ % len(apps) :] + apps[: round_ % len(apps)]
                for concurrency in config.concurrency:
                    for scenario in config.scenarios:
                        for app in order:
                            if scenario not in app.scenarios:
                                continue
                            prepare(app, scenario, redis_python, config.redis_url)
                            record = load(app, scenario, concurrency, config)
                            record["round"] = round_ + 1
                            records.append(record)
                            log(
                                f"round {round_ + 1} c={concurrency} {scenario} {app.name}: "
                                f"{record['rps']:.0f} req/s"
                            )
    finally:
        cleanup(config, apps, databases, redis_python)
    results = report.summarise(
        records,
        {app.name: {"startup_seconds": app.startup_seconds} for app in apps},
        config_summary(config),
    )
    print(report.markdown(results, SCENARIOS))
    print()
    print("```json")
    print(json.dumps(results, indent=2))
    print("```")
    if config.json_path is not None:
        config.json_path.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def cleanup(
    config: Config, apps: list[App], databases: list[str], redis_python: Path | None
) -> None:
    """Drop the per-run databases and cache keys (the million-user database is kept)."""
    python = apps[0].python if apps else None
    if python is None:
        return
    postgres = database_url(config, "postgres")
    for name in databases:
        admin(python, "sql", postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if redis_python is not None:
        for app in apps:
            if app.cache_prefix is not None:
                admin(redis_python, "clear-redis", config.redis_url, app.cache_prefix)


def config_summary(config: Config) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=TEMPLATE_DIR,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commit": commit,
        "cpus": os.cpu_count(),
        "bakes": {bake_.name: bake_.switches for bake_ in config.bakes},
        "concurrency": config.concurrency,
        "rounds": config.rounds,
        "duration_seconds": config.duration,
        "users": config.users,
        "variants": dict(config.variants),
        "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
    }
