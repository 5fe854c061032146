"""bench/rss.py: how much memory does the running bot use with 10,000 reps?

Fills a database with N reps (default 10,000; Person rows as Slack described them) and
a pending end-of-day reflection nudge for each (due tomorrow, so nothing is sent), starts
a local Slack stand-in that knows them, then the real bot in HTTP mode
(`python -m bot.cli run --http`) in its own process, and reads its resident memory from
/proc/<pid>/status after start-up and again after some dispatcher ticks (TICK_SECONDS=1;
every tick runs the rituals' planners over all reps). The same is done with no reps as
the baseline. Linux only (it reads /proc).

    .venv/bin/python bench/rss.py
    .venv/bin/python bench/rss.py --reps 50000 --seconds 20

A figure, not a test.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.devkit.standin import SlackStandIn  # noqa: E402
from storage.db import create_db_and_tables, make_engine  # noqa: E402
from storage.models import Nudge, Person  # noqa: E402

TEAM = "T0001"


def fill(url: str, reps: int) -> None:
    engine = make_engine(url)
    create_db_and_tables(engine)
    now = datetime.now(UTC)
    tomorrow = now + timedelta(days=1)
    if reps:
        with engine.begin() as conn:
            conn.execute(
                insert(Person),
                [
                    {
                        "team_id": TEAM,
                        "slack_id": f"U0R{i:06}",
                        "name": f"rep{i}",
                        "tz": "America/New_York",
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
                    for i in range(reps)
                ],
            )
            conn.execute(
                insert(Nudge),
                [
                    {
                        "team_id": TEAM,
                        "user_slack_id": f"U0R{i:06}",
                        "kind": "reflection",
                        "payload": {},
                        "due_at": tomorrow,
                        "idempotency_key": f"reflection:{TEAM}:U0R{i:06}:bench",
                        "state": "pending",
                        "attempts": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(reps)
                ],
            )
    engine.dispose()


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(reps: int, seconds: float) -> tuple[int, int, int, int]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-rss-"))
    url = f"sqlite:///{tmp / 'rss.db'}"
    fill(url, reps)
    with SlackStandIn(validate_blocks=False) as slack:
        for i in range(reps):
            slack.add_user(f"U0R{i:06}", tz="America/New_York")
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": "bench-signing-secret",
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": url,
            "TICK_SECONDS": "1",
            "LOG_LEVEL": "WARNING",
        }
        log = tmp / "bot.log"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                "--http",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        print(log.read_text(), file=sys.stderr)
                        raise SystemExit("the bot did not start") from None
                    time.sleep(0.2)
            started, _ = rss_kib(proc.pid)
            time.sleep(seconds)
            after, peak = rss_kib(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        posts = len(slack.calls_to("chat.postMessage"))
    return started, after, peak, posts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="ticks to let run")
    args = parser.parse_args()
    print(f"{'reps':>8} {'RSS start':>12} {'RSS after':>12} {'peak (HWM)':>12} {'DMs sent':>9}")
    for reps in (0, args.reps):
        started, after, peak, posts = measure(reps, args.seconds)
        print(
            f"{reps:>8,} {started / 1024:>9.1f} MiB {after / 1024:>9.1f} MiB "
            f"{peak / 1024:>9.1f} MiB {posts:>9}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
