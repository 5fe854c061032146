"""bench/report.py: how long does `/loop report quarter` take to build for a big team?

The same data as bench/export.py (500 reps, 50,000 deals with a debrief each, half logged,
5,000 concerns), all dated within the quarter. Times the report's queries and Block Kit
(storage/reports.py, bot/messages/report.py) for an admin (everyone), a manager (a team
of 10) and a rep, on SQLite and, with --postgres URL, PostgreSQL. The ack is sent before
any of this (the command acks at once); the target is the report delivered within 2 s.

    .venv/bin/python bench/report.py [--postgres postgresql://postgres@127.0.0.1:5432/test]

A figure, not a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from export import TEAM, fill, on_postgres  # noqa: E402

from bot.messages import Texts  # noqa: E402
from bot.messages.catalog import ScriptCatalog  # noqa: E402
from bot.messages.report import RepLine, report_message  # noqa: E402
from storage import export, reports  # noqa: E402
from storage.db import make_engine, unit_of_work  # noqa: E402


def line(r: reports.RepReport) -> RepLine:
    return RepLine(
        r.rep, r.won, r.lost, r.no_decision, r.logged, r.debriefs, r.median_days,
        r.calls_logged, r.calls_asked, r.concerns_closed, r.agreed, r.compared,
    )  # fmt: skip


def measure(url: str, label: str) -> None:
    fill(url)
    engine = make_engine(url)
    t = Texts(ScriptCatalog.load(None), "en")
    until = datetime(2026, 12, 1, tzinfo=UTC)
    since = until - timedelta(days=90)
    for who, viewer, admin in (
        ("admin (everyone)", "U0ADMIN", True),
        ("manager (10 reps)", "U0M0000", False),
        ("rep", "U0R00000", False),
    ):
        started = time.perf_counter()
        with unit_of_work(engine, immediate=False) as session:
            scope = export.scope_for(session=session, team_id=TEAM, viewer=viewer, admin=admin)
            rows = reports.rep_reports(session=session, scope=scope, since=since, until=until)
        built = report_message(
            t, period="q", scope="s", total=line(reports.team_totals(rows)),
            lines=[line(r) for r in rows],
        )  # fmt: skip
        seconds = time.perf_counter() - started
        print(
            f"{label:10} {who:18} {len(rows):>4} reps, {len(built.blocks)} blocks, {seconds:.2f} s"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", help="also on this PostgreSQL database (a new schema)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{Path(tmp) / 'bench.db'}", "SQLite")
    if args.postgres:
        on_postgres(args.postgres, measure)


if __name__ == "__main__":
    main()
