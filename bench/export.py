"""bench/export.py: how long does `/loop export all` take for a big team, and how much
memory does it use?

Fills a database with 500 reps (50 managers of 10), 50,000 deals, a debrief for each
(logged, with answers, for half), 5,000 concerns and a year of reflections for one rep,
then times building the CSV files the way the command does (storage/export.py in one
unit of work) for an admin (everyone), a manager (a team of 10) and a rep, and reads the
process's peak memory. On SQLite (a temporary file) and, with --postgres URL, PostgreSQL.
The upload itself is one files_upload_v2 call per export, not counted here.

    .venv/bin/python bench/export.py
    .venv/bin/python bench/export.py --postgres postgresql://postgres@127.0.0.1:5432/test

A figure, not a test. Target: the whole export within 10 s.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from storage import export  # noqa: E402
from storage.db import create_db_and_tables, make_engine, unit_of_work  # noqa: E402
from storage.models import Deal, Person, Reflection, RitualRun  # noqa: E402

TEAM = "T0001"
REPS = 500
DEALS = 50_000
CONCERNS = 5_000


def fill(url: str) -> None:
    engine = make_engine(url)
    create_db_and_tables(engine)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    reps = [f"U0R{i:05}" for i in range(REPS)]
    with engine.begin() as conn:
        conn.execute(
            insert(Person),
            [
                {
                    "team_id": TEAM,
                    "slack_id": rep,
                    "name": rep.lower(),
                    "manager_slack_id": f"U0M{i // 10:04}",
                    "is_admin": False,
                    "is_bot": False,
                    "deleted": False,
                    "paused": False,
                    "reflections_off": False,
                }
                for i, rep in enumerate(reps)
            ],
        )
        conn.execute(
            insert(Deal),
            [
                {
                    "team_id": TEAM,
                    "account": f"Account {i}",
                    "outcome": ("won", "lost", "no_decision")[i % 3],
                    "amount": Decimal(1000 + i),
                    "currency": "USD",
                    "rep_slack_id": reps[i % REPS],
                    "source": "channel",
                    "status": "open",
                    "revision": 0,
                    "created_at": now - timedelta(minutes=i),
                }
                for i in range(DEALS)
            ],
        )
        ids = [row[0] for row in conn.execute(text("SELECT id FROM deal ORDER BY id"))]
        answers = {
            "reason": "Price",
            "missed": "Timeline",
            "needs": "Speed",
            "solution": "Standard",
            "gap": "Timing",
            "takeaways": "Ask early",
        }
        conn.execute(
            insert(RitualRun),
            [
                {
                    "team_id": TEAM,
                    "ritual": "loss_debrief",
                    "user_slack_id": reps[n % REPS],
                    "deal_id": deal_id,
                    "account": f"Account {n}",
                    "state": "logged" if n % 2 else "dm_sent",
                    "data": {"guess": "Price", "client": answers} if n % 2 else {},
                    "created_at": now,
                }
                for n, deal_id in enumerate(ids)
            ],
        )
        conn.execute(
            insert(RitualRun),
            [
                {
                    "team_id": TEAM,
                    "ritual": "concern",
                    "user_slack_id": reps[n % REPS],
                    "account": f"Account {n}",
                    "state": "open",
                    "data": {"concern": "Price", "asks": [{"n": 1, "answer": "ok", "at": "x"}]},
                    "created_at": now,
                }
                for n in range(CONCERNS)
            ],
        )
        conn.execute(
            insert(Reflection),
            [
                {
                    "team_id": TEAM,
                    "user_slack_id": reps[0],
                    "local_date": (now - timedelta(days=d)).date().isoformat(),
                    "went": "ok",
                    "short": "",
                    "better": "",
                }
                for d in range(365)
            ],
        )
    engine.dispose()


def measure(url: str, label: str) -> None:
    fill(url)
    engine = make_engine(url)
    for who, viewer, admin in (
        ("admin (everyone)", "U0ADMIN", True),
        ("manager (10 reps)", "U0M0000", False),
        ("rep", "U0R00000", False),
    ):
        started = time.perf_counter()
        with unit_of_work(engine, immediate=False) as session:
            scope = export.scope_for(session=session, team_id=TEAM, viewer=viewer, admin=admin)
            files = [
                export.export(session=session, scope=scope, kind=k, today="2026-12-01")
                for k in export.KINDS
            ]
        seconds = time.perf_counter() - started
        rows = sum(f.rows for f in files)
        size = sum(len(f.content) for f in files) / 1e6
        print(f"{label:10} {who:18} {rows:>7} rows {size:6.1f} MB {seconds:6.2f} s")
    engine.dispose()


def on_postgres(url: str, measure: Callable[[str, str], None]) -> None:
    """Run `measure` on a schema of its own on that PostgreSQL server, dropped after."""
    base = "postgresql+psycopg://" + url.split("://", 1)[1]
    schema = "bench_" + uuid.uuid4().hex[:8]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        measure(f"{base}?options=-csearch_path%3D{schema}", "PostgreSQL")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", help="also on this PostgreSQL database (a new schema)")
    args = parser.parse_args()
    print(f"{REPS} reps, {DEALS} deals and debriefs, {CONCERNS} concerns")
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{Path(tmp) / 'bench.db'}", "SQLite")
    if args.postgres:
        on_postgres(args.postgres, measure)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process (filling included): {peak:.0f} MB")


if __name__ == "__main__":
    main()
