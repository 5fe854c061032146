"""bench/report.py: how long does `/loop report quarter` take for a big team?

The same data as bench/export.py (500 reps, 50,000 deals with a debrief each, half
logged, 5,000 concerns, 10,000 stories linked to deals with the share credited), all
within the quarter. For an admin (everyone), a manager (a team of 10) and a rep:

- build: the report's queries and Block Kit (storage/reports.py, bot/messages/report.py),
  stories first, timed in this process;
- end to end: the real bot (`feedback-loop run --http`) on that database, a signed
  `/loop report quarter` sent to it, the ack (its HTTP answer) and the delivery (the
  report posted to the response_url, as the Slack stand-in receives it) timed; then the
  bot's peak memory.

On SQLite and, with --postgres URL, PostgreSQL (a schema of its own, dropped after).
Targets: the ack at once (Slack allows 3 s), the report delivered within 2 s.

    .venv/bin/python bench/report.py [--postgres postgresql://postgres@127.0.0.1:5432/test]

A figure, not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from export import STORIES, TEAM, fill, on_postgres  # noqa: E402
from live import VIEWERS, LiveBot, load_average  # noqa: E402

from bot.messages import Texts  # noqa: E402
from bot.messages.catalog import ScriptCatalog  # noqa: E402
from bot.messages.report import RepLine, report_message  # noqa: E402
from bot.messages.stories import MonthEntry  # noqa: E402
from storage import export, reports  # noqa: E402
from storage.db import make_engine, unit_of_work  # noqa: E402

ROUNDS = 5
DELIVERY_TARGET = 2.0
ACK_TARGET = 3.0
MISSED: list[str] = []  # the databases where a target was missed


def line(r: reports.RepReport) -> RepLine:
    return RepLine(
        r.rep, r.won, r.lost, r.no_decision, r.logged, r.debriefs, r.median_days,
        r.calls_logged, r.calls_asked, r.concerns_closed, r.agreed, r.compared, r.stories,
    )  # fmt: skip


def build(url: str, label: str, now: datetime) -> None:
    engine = make_engine(url)
    t = Texts(ScriptCatalog.load(None), "en")
    since = now - timedelta(days=90)
    for who, viewer in VIEWERS:
        started = time.perf_counter()
        with unit_of_work(engine, immediate=False) as session:
            scope = export.scope_for(
                session=session, team_id=TEAM, viewer=viewer, admin=viewer == "U0ADMIN"
            )
            rows = reports.rep_reports(session=session, scope=scope, since=since, until=now)
            told = reports.period_stories(session=session, scope=scope, since=since, until=now)
        built = report_message(
            t, period="q", scope="s", total=line(reports.team_totals(rows)),
            lines=[line(r) for r in rows],
            stories=[
                MonthEntry(s.rep, s.lesson, s.permalink, s.account, s.share, s.amount,
                           s.currency, s.deal_id)
                for s in told
            ],
        )  # fmt: skip
        seconds = time.perf_counter() - started
        total = reports.team_totals(rows)
        days = "—" if total.median_days is None else f"{total.median_days:.1f}"
        print(
            f"{label:10} build {who:18} {len(rows):>4} reps {len(told):>5} stories "
            f"{total.logged:>5}/{total.debriefs} logged (median {days} days) "
            f"guess {total.agreed}/{total.compared} {len(built.blocks):>2} blocks {seconds:5.2f} s"
        )
    engine.dispose()


def live(url: str, label: str) -> bool:
    """Each viewer's report ROUNDS times; the first right after the bot started (its
    dispatcher's first ticks compete for the two cores), the median of all, the worst."""
    ok = True
    with LiveBot(url) as bot:
        for who, viewer in VIEWERS:
            runs = [
                bot.command(viewer, "report quarter", delivered_by="response_url")
                for _ in range(ROUNDS)
            ]
            acks = [r.ack for r in runs]
            delivered = [r.delivered for r in runs]
            met = max(delivered) <= DELIVERY_TARGET and max(acks) <= ACK_TARGET
            ok = ok and met and all(r.status == 200 for r in runs)
            cpu = statistics.median(r.cpu for r in runs)
            print(
                f"{label:10} live  {who:18} ack median {statistics.median(acks) * 1000:4.0f} ms "
                f"max {max(acks) * 1000:4.0f} ms · delivered first {delivered[0]:4.2f} s "
                f"median {statistics.median(delivered):4.2f} s max {max(delivered):4.2f} s "
                f"(target {DELIVERY_TARGET:g} s): {'PASS' if met else 'FAIL'} · "
                f"bot CPU {cpu:4.2f} s"
            )
        print(
            f"{label:10} live  peak memory of the bot: {bot.peak_rss_mb():.0f} MB; "
            f"load average {load_average()} on {os.cpu_count()} cores"
        )
    return ok


def measure(url: str, label: str) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fill(url, now)
    build(url, label, now)
    if not live(url, label):
        MISSED.append(label)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", help="also on this PostgreSQL database (a new schema)")
    args = parser.parse_args()
    print(f"500 reps, 50000 deals and debriefs, 5000 concerns, {STORIES} stories; quarter")
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{Path(tmp) / 'bench.db'}", "SQLite")
    if args.postgres:
        on_postgres(args.postgres, measure)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process (filling included): {peak:.0f} MB")
    return 1 if MISSED else 0


if __name__ == "__main__":
    raise SystemExit(main())
