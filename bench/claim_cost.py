"""bench/claim_cost.py: does claiming due nudges stay cheap as the table grows?

Fills the nudge table to 10k, 100k and 1M rows (most of them settled history: sent,
skipped, failed; 1% pending in the future; 200 due now) and times the dispatcher's claim
transaction at each size: recover expired leases, then claim a batch of 50 due rows
(FOR UPDATE SKIP LOCKED on PostgreSQL, an immediate transaction on SQLite), rolled
back so every run claims the same rows. The (state, due_at) index keeps it flat.

    .venv/bin/python bench/claim_cost.py                      # SQLite, and PostgreSQL if
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/claim_cost.py
    .venv/bin/python bench/claim_cost.py --pg postgresql://... --sizes 10000,100000

Rows are inserted with executemany on SQLite and COPY on PostgreSQL. A figure, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from storage import nudges  # noqa: E402
from storage.db import create_db_and_tables, make_engine, unit_of_work  # noqa: E402
from storage.models import Nudge  # noqa: E402

NOW = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)
DUE_NOW = 200
RUNS = 30


def rows(start: int, stop: int) -> list[dict[str, Any]]:
    out = []
    for i in range(start, stop):
        if i % 100 == 0:
            state, due = "pending", NOW + timedelta(minutes=1 + i % 10_000)
        else:
            state = ("sent", "sent", "sent", "skipped", "failed")[i % 5]
            due = NOW - timedelta(minutes=1 + i % 500_000)
        out.append(
            {
                "team_id": "T0001",
                "user_slack_id": f"U{i % 10_000:06}",
                "kind": "reflection",
                "payload": "{}",
                "due_at": due.replace(tzinfo=None),
                "idempotency_key": f"k{i}",
                "state": state,
                "attempts": 1,
                "created_at": due.replace(tzinfo=None),
                "updated_at": due.replace(tzinfo=None),
            }
        )
    return out


COLUMNS = list(rows(0, 1)[0])


def insert_rows(engine: Engine, start: int, stop: int) -> None:
    chunk = 50_000
    for a in range(start, stop, chunk):
        batch = rows(a, min(stop, a + chunk))
        if engine.dialect.name == "postgresql":
            raw: Any = engine.raw_connection()
            try:
                with raw.cursor() as cur:
                    cols = ", ".join(COLUMNS)
                    with cur.copy(f"COPY nudge ({cols}) FROM STDIN") as copy:
                        for r in batch:
                            copy.write_row([r[c] for c in COLUMNS])
                raw.commit()
            finally:
                raw.close()
        else:
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    f"INSERT INTO nudge ({', '.join(COLUMNS)}) VALUES "
                    f"({', '.join('?' for _ in COLUMNS)})",
                    [tuple(r[c] for c in COLUMNS) for r in batch],
                )


def add_due_now(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Nudge),
            [
                {
                    "team_id": "T0001",
                    "user_slack_id": f"U{i:06}",
                    "kind": "reflection",
                    "payload": {},
                    "due_at": NOW - timedelta(seconds=i),
                    "idempotency_key": f"due{i}",
                    "state": "pending",
                    "attempts": 0,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(DUE_NOW)
            ],
        )


class Rollback(Exception):
    pass


def time_claims(engine: Engine) -> list[float]:
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        try:
            with unit_of_work(engine, immediate=True) as session:
                nudges.recover_expired_leases(session=session, now=NOW)
                claimed = nudges.claim_due(
                    session=session, now=NOW, limit=50, lease=timedelta(minutes=2)
                )
                assert len(claimed) == 50
                raise Rollback
        except Rollback:
            pass
        times.append((time.perf_counter() - t) * 1000)
    return times


def bench(label: str, engine: Engine, sizes: list[int]) -> None:
    create_db_and_tables(engine)
    add_due_now(engine)
    have = DUE_NOW
    for size in sizes:
        t = time.perf_counter()
        insert_rows(engine, have, size)
        have = size
        filled = time.perf_counter() - t
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("ANALYZE nudge")
            else:
                conn.exec_driver_sql("ANALYZE")
        times = time_claims(engine)
        p50 = statistics.median(times)
        p95 = sorted(times)[int(len(times) * 0.95) - 1]
        print(
            f"{label:<11} {size:>10,} {p50:>10.2f} {p95:>10.2f}   (filled in {filled:.1f} s)",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"{'database':<11} {'rows':>10} {'p50 ms':>10} {'p95 ms':>10}")
    if not args.no_sqlite:
        path = Path(tempfile.mkdtemp(prefix="bench-claim-")) / "claim.db"
        engine = make_engine(f"sqlite:///{path}")
        bench("SQLite", engine, sizes)
        engine.dispose()
    if args.pg:
        base = "postgresql+psycopg://" + args.pg.split("://", 1)[1]
        schema = "bench_" + uuid.uuid4().hex[:8]
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            engine = make_engine(
                f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
            )
            bench("PostgreSQL", engine, sizes)
            engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
