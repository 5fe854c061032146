"""bench/export.py: how long does `/loop export all` take for a big team, and how much
memory does it use?

Fills a database with 500 reps (50 managers of 10), 50,000 deals, a debrief for each
(logged, with answers and reason categories, for half), 5,000 concerns, 10,000 stories
(each linked to one of the rep's deals with the share credited; one in 50 deleted) and a
year of reflections for one rep, dated over the last 35 days. Then, for an admin
(everyone), a manager (a team of 10) and a rep:

- build: the CSV files made the way the command makes them (storage/export.py in one
  unit of work), timed in this process;
- end to end: the real bot (`feedback-loop run --http`, bench/live.py) on that database,
  a signed `/loop export all` sent to it, the ack and the delivery (the files uploaded to
  the Slack stand-in: files.getUploadURLExternal, the upload, completeUploadExternal);
  then the bot's peak memory.

On SQLite (a temporary file) and, with --postgres URL, PostgreSQL (a schema of its own).

    .venv/bin/python bench/export.py
    .venv/bin/python bench/export.py --postgres postgresql://postgres@127.0.0.1:5432/test

A figure, not a test. Target: the whole export within 10 s.
"""

from __future__ import annotations

import argparse
import os
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
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from storage import export  # noqa: E402
from storage.db import create_db_and_tables, make_engine, unit_of_work  # noqa: E402
from storage.models import Deal, Person, Reflection, RitualRun, Story  # noqa: E402

TEAM = "T0001"
REPS = 500
DEALS = 50_000
CONCERNS = 5_000
STORIES = 10_000
TARGET = 10.0  # seconds
STORIES_CHANNEL = "C0STORIES"
ANSWERS = {
    "reason": "Price",
    "missed": "Timeline",
    "needs": "Speed",
    "solution": "Standard",
    "gap": "Timing",
    "takeaways": "Ask early",
}


def fill(url: str, now: datetime | None = None) -> None:
    """The data, dated over the 35 days before `now` (default: this minute, so the real
    bot's "last 90 days" covers it all)."""
    engine = make_engine(url)
    create_db_and_tables(engine)
    now = now or datetime.now(UTC).replace(second=0, microsecond=0)
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
                    "data": logged(n, now) if n % 2 else {},
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
        conn.execute(insert(Story), stories(ids, reps, now))
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
    if engine.dialect.name == "postgresql":
        # A database in use has its statistics (autovacuum); a just-filled one has none,
        # and PostgreSQL would plan 25,000 index look-ups where one hash join does.
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    engine.dispose()


REASONS = ("price", "product_fit", "timing", "relationship", "competitor", "status_quo")


def logged(n: int, now: datetime) -> dict[str, object]:
    """A logged debrief's data as the forms leave it: the guess and the client's answers,
    each with a reason category, and when it was logged (a few days after the deal)."""
    return {
        "guess": "Price",
        "guess_category": REASONS[n % len(REASONS)],
        "client": {**ANSWERS, "reason_category": REASONS[(n // 2) % len(REASONS)]},
        "logged_at": (now - timedelta(minutes=n) + timedelta(days=n % 5)).isoformat(),
    }


def stories(deal_ids: list[int], reps: list[str], now: datetime) -> list[dict[str, object]]:
    """STORIES stories, one for every fifth deal, told by that deal's rep, crediting
    0-100 % of it to the lesson; one in 50 deleted (they never count)."""
    rows: list[dict[str, object]] = []
    for n in range(STORIES):
        deal = n * (DEALS // STORIES)
        created = now - timedelta(minutes=3 * n)
        ts = f"{1_700_000_000 + n}.000100"
        link = f"https://acme.slack.com/archives/{STORIES_CHANNEL}/p{ts.replace('.', '')}"
        year, week, _ = created.isocalendar()
        rows.append(
            {
                "team_id": TEAM,
                "rep_slack_id": reps[deal % REPS],
                "week": f"{year}-W{week:02d}",
                "source": "modal",
                "channel": STORIES_CHANNEL,
                "thread_ts": "1700000000.000001",
                "ts": ts,
                "permalink": link,
                "lang": "en",
                "lesson": f"Ask for the go-live date in the first meeting ({n % 40})",
                "did": "Asked when they needed to be live",
                "happened": "They told us about the spring deadline",
                "text": "",
                "deal_id": deal_ids[deal],
                "share": (n * 7) % 101,
                "state": "deleted" if n % 50 == 49 else "posted",
                "created_at": created,
                "updated_at": created,
            }
        )
    return rows


def measure(url: str, label: str, live: bool = True) -> None:
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
        print(f"{label:10} build {who:18} {rows:>7} rows {size:6.1f} MB {seconds:6.2f} s")
    engine.dispose()
    if live:
        _live(url, label)


def _live(url: str, label: str) -> None:
    from live import VIEWERS, LiveBot, load_average

    with LiveBot(url) as bot:
        for who, viewer in VIEWERS:
            timing = bot.command(viewer, "export all", delivered_by="files.completeUploadExternal")
            met = timing.delivered <= TARGET
            print(
                f"{label:10} live  {who:18} ack {timing.ack * 1000:4.0f} ms · delivered "
                f"{timing.delivered:5.2f} s (target {TARGET:g} s): {'PASS' if met else 'FAIL'}"
                f" · CPU: bot {timing.cpu:4.2f} s, stand-in {timing.standin_cpu:4.2f} s"
            )
        print(
            f"{label:10} live  peak memory of the bot: {bot.peak_rss_mb():.0f} MB; "
            f"load average {load_average()} on {os.cpu_count()} cores"
        )


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
    print(f"{REPS} reps, {DEALS} deals and debriefs, {CONCERNS} concerns, {STORIES} stories")
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{Path(tmp) / 'bench.db'}", "SQLite")
    if args.postgres:
        on_postgres(args.postgres, measure)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process (filling included): {peak:.0f} MB")


if __name__ == "__main__":
    main()
