"""The template's revisions run after the project's own, whenever they arrive
(db/placement.py): no second head, nothing skipped, no merge by hand."""

import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.db.placement import RevisionFile, place, read_revisions
from tests.conftest import PROJECT_ROOT
from tests.test_migrations import query

MIGRATIONS = PROJECT_ROOT / "migrations"
# The template's revisions in this project (soft delete's among them when it is on).
PLACED = sorted(
    name for name, file in read_revisions(MIGRATIONS / "versions").items() if file.parents is None
)

OWN_REVISION = '''"""A table of the project's own."""

revision = "{revision}"
down_revision = {down!r}
branch_labels = None
depends_on = None

from alembic import op
import sqlalchemy as sa


def upgrade() -> None:
    op.create_table("{table}", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("{table}")
'''


LATE_REVISION = '''"""A template revision of a later release."""

from {{ cookiecutter.package_name }}.db.placement import placed

revision = "9999"
down_revision = placed(revision, __file__)


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


def chain(
    *names: str, placed: tuple[str, ...] = (), was_after: dict[str, str] | None = None
) -> dict[str, RevisionFile]:
    """Revision files: `names` each after the one before, except those in `placed`."""
    files: dict[str, RevisionFile] = {}
    previous: tuple[str, ...] = ()
    for name in names:
        if name in placed:
            old = (was_after or {}).get(name)
            files[name] = RevisionFile(name, None, (old,) if old else None)
        else:
            files[name] = RevisionFile(name, previous)
        previous = (name,)
    return files


def test_template_revisions_go_after_the_projects_in_the_order_of_their_ids() -> None:
    files = chain("0001", "0002", "0003", "0004", placed=("0003", "0004"))
    files["own1"] = RevisionFile("own1", ("0002",))

    parents = place(files)

    assert parents["0003"] == ("own1",)
    assert parents["0004"] == ("0003",)


def test_a_revision_the_project_follows_stays_where_it_stood() -> None:
    files = chain("0001", "0002", "0003", "0004", placed=("0003", "0004"))
    files["own1"] = RevisionFile("own1", ("0002",))
    # 0004 arrived first (soft delete was off) and the project wrote own2 after it.
    files["own2"] = RevisionFile("own2", ("0004",), frozen={"0004": ("own1",)})

    parents = place(files)

    assert parents["0004"] == ("own1",)
    assert parents["0003"] == ("own2",)


def test_a_followed_revision_without_a_record_comes_before_the_others() -> None:
    files = chain("0001", "0002", "0003", "0004", placed=("0003", "0004"))
    files["own1"] = RevisionFile("own1", ("0004",))

    parents = place(files)

    assert parents["0004"] == ("0002",)
    assert parents["0003"] == ("own1",)


def test_a_revision_that_shipped_before_placement_keeps_its_old_parent() -> None:
    files = chain("0001", "0002", "0003", placed=("0003",), was_after={"0003": "0002"})
    files["own1"] = RevisionFile("own1", ("0003",))
    files["own2"] = RevisionFile("own2", ("own1",))

    assert place(files)["0003"] == ("0002",)


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """A copy of the project's migrations, without the template's revisions that arrive
    later (as in a project generated before them, with soft delete off)."""
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for path in copy.glob("versions/*.py"):
        if path.name.split("_")[1] in PLACED:
            path.unlink()
    return copy


def alembic_on(migrations: Path, engine: AsyncEngine) -> Config:
    config = Config(PROJECT_ROOT / "alembic.ini")
    config.set_main_option("script_location", str(migrations))
    config.attributes["connection"] = engine
    config.attributes["configure_logger"] = False
    return config


def add_own_revision(migrations: Path, revision: str, down: str, table: str) -> None:
    path = migrations / "versions" / f"29990101_{revision}_{table}.py"
    path.write_text(OWN_REVISION.format(revision=revision, down=down, table=table))


def test_template_revisions_arriving_later_run_after_the_projects(
    migrations: Path, alembic_engine: AsyncEngine
) -> None:
    config = alembic_on(migrations, alembic_engine)
    add_own_revision(migrations, "own1", "0002", "notes")
    command.upgrade(config, "head")

    # The update brings the template's revisions (with soft delete, when it is on).
    for path in MIGRATIONS.glob("versions/*.py"):
        if path.name.split("_")[1] in PLACED:
            shutil.copy(path, migrations / "versions" / path.name)
    command.upgrade(config, "head")

    # They ran after the project's revision, in the order of their ids.
    assert ScriptDirectory.from_config(config).get_heads() == [PLACED[-1]]
    assert versions(alembic_engine) == [PLACED[-1]]
    assert query(alembic_engine, "SELECT to_regclass('ix_users_username_trgm')")[0][0] is not None

    # The project's next revision, as `alembic revision` writes it, fixes their place.
    command.revision(config, message="add tags")
    (written,) = set(migrations.glob("versions/*_add_tags.py"))
    (new,) = [
        file
        for file in read_revisions(migrations / "versions").values()
        if file.revision not in {"own1", *PLACED}
        and file.parents is not None
        and file.revision not in read_revisions(MIGRATIONS / "versions")
    ]
    assert new.parents == (PLACED[-1],)
    before = [("own1",), *[(name,) for name in PLACED[:-1]]]
    assert new.frozen == dict(zip(PLACED, before, strict=True))
    assert "import sqlalchemy" not in written.read_text()  # unused imports removed

    # A template revision arriving after that goes after it.
    late = migrations / "versions" / "29990102_9999_late.py"
    late.write_text(LATE_REVISION)
    command.upgrade(config, "head")
    assert ScriptDirectory.from_config(config).get_heads() == ["9999"]
    assert versions(alembic_engine) == ["9999"]
    command.downgrade(config, "own1")
    command.upgrade(config, "head")
    assert versions(alembic_engine) == ["9999"]


def versions(engine: AsyncEngine) -> list[str]:
    return [row[0] for row in query(engine, "SELECT version_num FROM alembic_version")]
