"""Schema versions with Alembic: upgrade a database to the models' schema, and tell
whether a database is current. The migrations live in storage/migrations/versions; a
new column or table means a new revision there (`feedback-loop make-migration "what"`
writes one by comparing the models with a database at head)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, inspect
from sqlalchemy.engine import Connection, Engine

from storage import models

MIGRATIONS = Path(__file__).with_name("migrations")
# Release 0.1.0 made its tables with create_all and kept no version: a database with
# this table and no alembic_version is at revision 0001.
FIRST_REVISION = "0001"
FIRST_RELEASE_TABLE = "nudge"


def render_item(kind: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Migrations must not import our models (they change; a migration is frozen): our
    UTC column renders as the plain DateTime it stores, SQLModel's AutoString as String."""
    if kind == "type" and isinstance(obj, models.UTCDateTime):
        return "sa.DateTime()"
    if kind == "type" and type(obj).__name__ == "AutoString":
        length = getattr(obj, "length", None)
        return f"sa.String(length={length})" if length else "sa.String()"
    return False


def compare_type(
    ctx: Any, inspected: Any, metadata_column: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    if isinstance(metadata_type, models.UTCDateTime):
        # Stored as a plain (naive, UTC) DateTime on both databases.
        return not isinstance(inspected_type, DateTime)
    return None  # Alembic's own comparison


class SchemaOutOfDate(RuntimeError):
    """The database's schema is behind (or ahead of) this release's."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated, e.g. empty)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current(engine) == head()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def is_empty(engine: Engine) -> bool:
    return not (_tables(engine) - {"alembic_version"})


def upgrade(engine: Engine, revision: str = "head") -> None:
    """To `revision` (head: this release's schema). A database made by release 0.1.0,
    which kept no version, is first marked as revision 0001, which is its schema."""
    with engine.begin() as connection:
        config = _config(connection)
        unversioned = MigrationContext.configure(connection).get_current_revision() is None
        if unversioned and FIRST_RELEASE_TABLE in set(inspect(connection).get_table_names()):
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, revision)


def prepare(engine: Engine, *, auto_migrate: bool) -> None:
    """Before the bot uses a database: an empty one gets this release's schema (there
    is nothing to lose); one behind is upgraded only when asked (AUTO_MIGRATE), else
    refused, since with several replicas the migration must run once, on purpose."""
    if is_empty(engine) or auto_migrate:
        upgrade(engine)
        return
    at, want = current(engine), head()
    if at != want:
        raise SchemaOutOfDate(
            f"the database schema is at {at or 'release 0.1.0 (unversioned)'} and this "
            f"release needs {want}: run `feedback-loop migrate` (or set AUTO_MIGRATE=true)"
        )


def make_revision(engine: Engine, message: str) -> None:
    """Write a new revision with what the models have that a database at head lacks."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
