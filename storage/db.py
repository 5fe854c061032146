"""The engine and schema creation; nothing else lives here.

SQLite is the laptop default (one file, WAL so readers never block the writer);
PostgreSQL is for replicas. One `Session` per unit of work: a listener call or one
dispatcher tick.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Insert, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        kwargs: dict[str, Any] = {
            # Listeners run DB work in worker threads; SQLite's default forbids that.
            "connect_args": {"check_same_thread": False, "timeout": 30},
        }
        if in_memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own BEGIN handling defers locks; we issue BEGIN ourselves so a
            # claim can take the write lock up front (BEGIN IMMEDIATE).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            if not in_memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "")
            conn.exec_driver_sql(f"BEGIN {mode}".strip())

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def create_db_and_tables(engine: Engine) -> None:
    """This release's schema, made by its migrations (storage/schema.py): a database
    the tests and benchmarks make is the same as an installed one."""
    from storage import schema

    schema.upgrade(engine)


@contextmanager
def unit_of_work(engine: Engine, *, immediate: bool = True) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises.

    On SQLite every unit of work takes the write lock at BEGIN (IMMEDIATE) by default:
    in WAL mode a transaction that reads and then writes fails at once ("database is
    locked", which busy_timeout cannot help) if another writer committed in between,
    and SQLite serialises writers anyway. `immediate=False` is for pure reads that may
    run beside a writer. PostgreSQL ignores the flag (it uses row locks)."""
    bind: Any = engine
    if immediate and engine.dialect.name == "sqlite":
        bind = engine.execution_options(sqlite_begin="IMMEDIATE")
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


_INSERTS: dict[tuple[str, str], Insert] = {}


def insert_or_skip(session: Session, model: type[SQLModel], values: dict[str, Any]) -> int | None:
    """Insert one row and return its id, or None when a unique constraint already holds
    a row like it (an earlier or concurrent copy). One statement on the session's
    connection: no savepoint, no ORM object, nothing to flush; what the hot paths (a deal
    taken in, its nudges) write with. Give every column that has no server default:
    the models' Python defaults do not apply here. Pending ORM changes are flushed first,
    so rows added before (a run the nudge points at) are there."""
    session.flush()
    conn = session.connection()
    table: Table = model.__table__  # type: ignore[attr-defined]
    key = (conn.dialect.name, table.name)
    stmt = _INSERTS.get(key)
    if stmt is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)
        _INSERTS[key] = stmt
    found = conn.execute(stmt, values).scalar()
    return None if found is None else int(found)
