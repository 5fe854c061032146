"""bench/dispatch.py: how fast does the dispatcher drain a burst, and does it sit idle?

Puts N due nudges (default 10,000, for a few hundred reps) in a fresh database, starts a
local Slack stand-in in this process with a rate limit on chat.postMessage, then runs
the real dispatcher loop (`feedback-loop dispatch`'s, bot.nudges.dispatcher.run_dispatch_process)
in its own process until every nudge is settled. Prints:

- nudges/second from the first post to the last, and from start-up to the last;
- the 429s Slack answered (a dispatcher paced under the limit should see none);
- time idle while work was due, as the dispatcher accounts for it (its last log line):
  time nudges sat due with no drain running (between ticks), apart from the time it
  waited for pacing tokens and for Retry-After; plus the largest gap between two posts.

    .venv/bin/python bench/dispatch.py                       # 10,000 nudges, 100/s
    .venv/bin/python bench/dispatch.py --nudges 2000 --slack-rate 50 --send-rate 80
    .venv/bin/python bench/dispatch.py --pg postgresql://postgres@127.0.0.1:5432/test

A figure, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from bot.devkit.standin import SlackStandIn  # noqa: E402
from storage.db import create_db_and_tables, make_engine  # noqa: E402
from storage.models import Nudge, Person  # noqa: E402

TEAM = "T0001"

# The dispatcher process: the same loop as `feedback-loop dispatch`, with one kind of
# nudge of the bench's own, and SEND_RATE taken from argv (the setting stops at 100/s).
WORKER = """
import dataclasses, sys
from bot.cli import configure_logging
from bot.nudges.delivery import Message, register_kind
from bot.nudges.registry import KindPolicy
from bot.nudges.dispatcher import run_dispatch_process
from bot.runtime import build_runtime
from bot.settings import load_settings

async def render(rt, nudge, person):
    return Message(text="bench " + nudge.idempotency_key)

def setup(rt):
    register_kind(rt, "bench", render, policy=KindPolicy(respects_quiet=False))

settings = dataclasses.replace(
    load_settings(env_file=None), send_rate_per_second=float(sys.argv[1])
)
configure_logging(settings.log_level)
sys.exit(run_dispatch_process(build_runtime(settings), setup=setup))
"""


def fill(url: str, nudges: int, users: int) -> None:
    engine = make_engine(url)
    create_db_and_tables(engine)
    now = datetime.now(UTC)
    people = [
        {
            "team_id": TEAM,
            "slack_id": f"U0B{i:05}",
            "tz": "UTC",
            "locale": "en-US",
            "is_admin": False,
            "is_bot": False,
            "deleted": False,
            "paused": False,
            # Listed as reps (a manager): only reps are planned reflections.
            "manager_slack_id": "U0MGR0001",
            "refreshed_at": now,
            "created_at": now,
        }
        for i in range(users)
    ]
    rows = [
        {
            "team_id": TEAM,
            "user_slack_id": f"U0B{i % users:05}",
            "kind": "bench",
            "payload": {},
            "due_at": now,
            "idempotency_key": f"bench:{i}",
            "state": "pending",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(nudges)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Person), people)
        conn.execute(insert(Nudge), rows)
    engine.dispose()


def settled(url: str) -> tuple[int, dict[str, int]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT state, count(*) FROM nudge WHERE kind = 'bench' GROUP BY state")
        ).all()
    engine.dispose()
    counts = {s: int(n) for s, n in found}
    return counts.get("pending", 0) + counts.get("sending", 0), counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nudges", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument(
        "--slack-rate",
        type=float,
        default=100.0,
        help="the stand-in's chat.postMessage limit, per second",
    )
    parser.add_argument(
        "--send-rate",
        type=float,
        default=None,
        help="the dispatcher's SEND_RATE (default: the Slack rate)",
    )
    parser.add_argument("--pg", default=None, help="PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args()
    send_rate = args.send_rate or args.slack_rate

    tmp = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    schema = None
    if args.pg:
        base = "postgresql+psycopg://" + args.pg.split("://", 1)[1]
        schema = "bench_" + uuid.uuid4().hex[:8]
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp / 'bench.db'}"

    print(f"filling {args.nudges:,} due nudges for {args.users:,} reps ...", flush=True)
    fill(url, args.nudges, args.users)

    with SlackStandIn(validate_blocks=False) as slack:
        for i in range(args.users):
            slack.add_user(f"U0B{i:05}", tz="UTC")
        slack.set_rate_limit(
            "chat.postMessage", args.slack_rate, burst=max(1, int(args.slack_rate))
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": url,
            "TICK_SECONDS": "1",
            "LOG_LEVEL": "INFO",
        }
        log = tmp / "dispatcher.log"
        started = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(send_rate)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        try:
            while True:
                left, counts = settled(url)
                if left == 0:
                    break
                if proc.poll() is not None:
                    print(log.read_text(), file=sys.stderr)
                    return 1
                time.sleep(0.5)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        calls = slack.calls_to("chat.postMessage")

    ok = sorted(c.at for c in calls if c.status == 200)
    refused = sorted(c.at for c in calls if c.status == 429)
    limited = len(refused)
    gaps = [b - a for a, b in zip(ok, ok[1:], strict=False)]
    figures = log.read_text().split("dispatcher stopped after sending ")[-1].strip()
    span = ok[-1] - ok[0] if len(ok) > 1 else 0.0
    print()
    print(f"database              {'PostgreSQL' if args.pg else 'SQLite'}")
    print(f"nudges                {args.nudges:,} ({counts})")
    print(f"Slack limit           {args.slack_rate:g}/s chat.postMessage (stand-in)")
    print(f"SEND_RATE             {send_rate:g}/s")
    print(f"first post after      {ok[0] - started:.2f} s (process start-up)")
    print(f"first -> last post    {span:.1f} s")
    print(f"throughput            {(len(ok) - 1) / span:.1f} nudges/s (first to last post)")
    print(f"                      {len(ok) / (ok[-1] - started):.1f} nudges/s (incl. start-up)")
    print(f"429s from Slack       {limited}")
    print(f"dispatcher's account  {figures}")
    if gaps:
        print(
            f"gap p50 / p99 / max   {statistics.median(gaps) * 1000:.1f} / "
            f"{sorted(gaps)[int(len(gaps) * 0.99)] * 1000:.1f} / {max(gaps) * 1000:.1f} ms"
        )
    if schema:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
