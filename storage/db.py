"""The engine and schema creation; nothing else lives here.

SQLite is the laptop default (one file, WAL so readers never block the writer);
PostgreSQL is for replicas. One `Session` per unit of work: a listener call or one
dispatcher tick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Executable, Insert, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from storage import (
    checkpoints,
    models,  # noqa: F401  (registers the tables on SQLModel.metadata)
)


def make_engine(url: str, *, background_checkpoints: bool = False) -> Engine:
    """`background_checkpoints`: a SQLite file's commits never copy the write-ahead log
    back into the database; a thread does (storage/checkpoints.py), which the HTTP server
    starts and stops. Ignored for PostgreSQL and in-memory SQLite."""
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        in_background = background_checkpoints and not in_memory
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
            if in_background:
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "")
            conn.exec_driver_sql(f"BEGIN {mode}".strip())

        if in_background and engine.url.database:
            checkpoints.register(engine, engine.url.database)
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


class _Ready(NamedTuple):
    """A statement as its dialect's driver takes it, with what turns each value into what
    the driver stores (SQLAlchemy's own bind processors: a UTC datetime, JSON)."""

    sql: str
    positional: bool
    params: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    fixed: dict[str, Any]


_READY: dict[tuple[Any, str, tuple[str, ...]], _Ready | None] = {}


def _ready(stmt: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Ready | None:
    clause: Any = stmt  # every Executable we prepare is a ClauseElement, which compiles
    compiled: Any = clause.compile(dialect=dialect, column_keys=list(keys) or None)
    if compiled.literal_execute_params or compiled.post_compile_params:
        return None  # rendered per call (IN lists): SQLAlchemy's own path
    if getattr(compiled, "escaped_bind_names", None):
        return None
    processors = compiled._bind_processors
    names = compiled.positiontup if compiled.positional else list(compiled.binds)
    fixed = {
        name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
    }
    params = tuple((name, processors.get(name)) for name in names)
    return _Ready(compiled.string, bool(compiled.positional), params, fixed)


_HELD = "run_prepared.connection"


def _held(session: Session) -> tuple[Connection, Any]:
    """The session's connection in its current transaction, and the driver's under it:
    asked of the session once per transaction (its look-up costs more than the
    statements here), again after a commit, which may hand back another connection."""
    transaction = session.get_transaction()
    held = session.info.get(_HELD)
    if transaction is None or held is None or held[0] is not transaction:
        conn = session.connection()
        held = (session.get_transaction(), conn, conn.connection.driver_connection)
        session.info[_HELD] = held
    return held[1], held[2]


def run_prepared(session: Session, stmt: Executable, values: dict[str, Any]) -> Any:
    """Run a statement built once at import (an insert, a look-up by key) on the unit of
    work's own driver connection and return the driver's cursor, to fetch from.

    What the intake runs for every deal: SQLAlchemy's execute costs several times what
    SQLite itself does for such small statements (events, a result object, parameter
    processing per call), and a burst of CRM deliveries is eight of them per deal. The
    SQL text and the bind processors are SQLAlchemy's own, compiled once per dialect, so
    what is stored is what the ORM would store. Statements that render per call (IN
    lists) take SQLAlchemy's path. Statement events (before_cursor_execute) do not see
    these. Pending ORM changes are flushed first, as the ORM's own queries do."""
    session.flush()
    conn, driver = _held(session)
    dialect = conn.dialect
    keys = tuple(values) if isinstance(stmt, Insert) else ()
    cache_key = (stmt, dialect.name, keys)
    try:
        ready = _READY[cache_key]
    except KeyError:
        ready = _READY[cache_key] = _ready(stmt, dialect, keys)
    if ready is None:
        return conn.execute(stmt, values).cursor
    merged = {**ready.fixed, **values} if ready.fixed else values
    cursor = driver.cursor()
    if ready.positional:
        args: Any = [
            merged[name] if proc is None else proc(merged[name]) for name, proc in ready.params
        ]
    else:
        args = {
            name: merged[name] if proc is None else proc(merged[name])
            for name, proc in ready.params
        }
    cursor.execute(ready.sql, args)
    return cursor


_INSERTS: dict[tuple[str, str], Insert] = {}


def insert_or_skip(session: Session, model: type[SQLModel], values: dict[str, Any]) -> int | None:
    """Insert one row and return its id, or None when a unique constraint already holds
    a row like it (an earlier or concurrent copy). One statement on the session's
    connection: no savepoint, no ORM object, nothing to flush; what the hot paths (a deal
    taken in, its nudges) write with. Give every column that has no server default:
    the models' Python defaults do not apply here. Pending ORM changes are flushed first,
    so rows added before (a run the nudge points at) are there."""
    dialect_name = session.get_bind().dialect.name
    table: Table = model.__table__  # type: ignore[attr-defined]
    key = (dialect_name, table.name)
    stmt = _INSERTS.get(key)
    if stmt is None:
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        stmt = dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)
        _INSERTS[key] = stmt
    found = run_prepared(session, stmt, values).fetchone()
    return None if found is None else int(found[0])
