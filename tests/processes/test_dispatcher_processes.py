"""Real dispatcher processes: killed with SIGKILL mid-send, stopped with SIGTERM, and
three replicas sharing one PostgreSQL table.

Each worker is a separate Python process running the same loop as
`feedback-loop dispatch` (bot.nudges.dispatcher.run_dispatch_process) with one small kind of
nudge of the test's own; it reaches the Slack stand-in, a thread of this process, over
HTTP. Nudges are due by the real clock, since the workers use it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from bot.devkit.standin import RecordedCall, SlackStandIn
from storage.db import create_db_and_tables, make_engine, unit_of_work
from storage.models import Nudge, Person
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
TEAM = "T0001"
USERS = [f"U0P{i:03}" for i in range(50)]

WORKER = """
import sys
from datetime import timedelta

from bot.cli import configure_logging
from bot.nudges.delivery import Message, register_kind
from bot.nudges.registry import KindPolicy
from bot.nudges.dispatcher import run_dispatch_process
from bot.runtime import build_runtime
from bot.settings import load_settings


async def render(rt, nudge, person):
    return Message(text="ping " + nudge.idempotency_key)


def setup(rt):
    register_kind(rt, "ping", render, policy=KindPolicy(respects_quiet=False))


settings = load_settings(env_file=None)
configure_logging(settings.log_level)
rt = build_runtime(settings)
lease = timedelta(seconds=float(sys.argv[1]))
sys.exit(run_dispatch_process(rt, lease=lease, setup=setup))
"""


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as s:
        # ts from the wall clock, as Slack's: the workers' real clock reads the DM's
        # history since a moment when a post was left uncertain.
        s.follow_clock(time.time)
        for user in USERS:
            s.add_user(user, tz="UTC")
        yield s
        assert not s.server_errors and not s.block_errors


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    create_db_and_tables(eng)
    yield eng
    eng.dispose()


def add_due_nudges(engine: Engine, count: int) -> list[str]:
    now = datetime.now(UTC)
    keys = [f"n{i:05}" for i in range(count)]
    with unit_of_work(engine) as session:
        # People the bot already knows, as after its first day: no users.info per nudge.
        for user in USERS:
            session.add(
                Person(team_id=TEAM, slack_id=user, tz="UTC", refreshed_at=now, created_at=now)
            )
        for i, key in enumerate(keys):
            session.add(
                Nudge(
                    team_id=TEAM,
                    user_slack_id=USERS[i % len(USERS)],
                    kind="ping",
                    due_at=now,
                    idempotency_key=key,
                    created_at=now,
                    updated_at=now,
                )
            )
    return keys


def start_worker(
    slack: SlackStandIn, db_url: str, *, rate: int, lease: float, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": db_url,
        "SEND_RATE": str(rate),
        "TICK_SECONDS": "0.2",
        "LOG_LEVEL": "INFO",
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(lease)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def states(engine: Engine) -> dict[str, int]:
    """Our nudges by state (the rituals' planners may add their own for these users)."""
    with Session(engine) as s:
        found = s.exec(
            select(Nudge.state, func.count()).where(Nudge.kind == "ping").group_by(Nudge.state)
        ).all()
    return {state: int(n) for state, n in found}


def all_settled(engine: Engine) -> Callable[[], bool]:
    return lambda: not ({"pending", "sending"} & set(states(engine)))


def stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout)


def posted(slack: SlackStandIn) -> Counter[str]:
    """How many times Slack stored each nudge's DM."""
    return Counter(
        m["text"].removeprefix("ping ") for m in slack.messages() if m["text"].startswith("ping ")
    )


def rows(engine: Engine) -> dict[str, Nudge]:
    with Session(engine) as s:
        found = s.exec(select(Nudge).where(Nudge.kind == "ping")).all()
        return {n.idempotency_key: n for n in found}


def test_killed_mid_send_loses_nothing_and_sends_nothing_twice(
    slack: SlackStandIn, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    keys = add_due_nudges(engine, 300)
    log = tmp_path / "worker.log"
    first = start_worker(slack, db_url, rate=60, lease=2, log=log)

    # Kill the worker from inside Slack's handling of its 100th post: Slack has stored
    # the message but the worker never hears back, the worst moment to die.
    def kill_on_100th(call: RecordedCall) -> None:
        if call.method == "chat.postMessage" and len(slack.calls_to(call.method)) == 100:
            os.kill(first.pid, signal.SIGKILL)

    slack.on_call = kill_on_100th
    assert first.wait(30) == -signal.SIGKILL
    slack.on_call = None
    at_kill = states(engine)
    assert at_kill.get("sending", 0) >= 1  # it died holding claims

    second = start_worker(slack, db_url, rate=60, lease=2, log=log)
    try:
        # The post in flight at the kill (Slack stored it, nobody heard back) turns
        # uncertain when its lease runs out, then is found in the DM's history.
        wait_until(lambda: states(engine) == {"sent": len(keys)}, 40, "every nudge sent")
    finally:
        assert stop(second) == 0, log.read_text()

    final = rows(engine)
    counts = posted(slack)
    assert set(final) == set(keys)
    assert counts == Counter({k: 1 for k in keys})
    assert "found in the DM after an uncertain post" in log.read_text()
    stored = {m["text"].removeprefix("ping "): m["ts"] for m in slack.messages()}
    assert all(n.sent_ts == stored[k] for k, n in final.items())


def test_sigterm_finishes_the_send_in_flight_and_hands_back_the_rest(
    slack: SlackStandIn, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    keys = add_due_nudges(engine, 200)
    log = tmp_path / "worker.log"
    worker = start_worker(slack, db_url, rate=40, lease=60, log=log)
    slack.wait_for("chat.postMessage", 50, timeout=30)
    assert stop(worker) == 0, log.read_text()
    after = states(engine)
    # Nothing left claimed (the lease would hold it for a minute), nothing in doubt.
    assert set(after) <= {"sent", "pending"} and after.get("pending", 0) > 0
    assert after["sent"] == sum(posted(slack).values())

    again = start_worker(slack, db_url, rate=100, lease=60, log=log)
    try:
        wait_until(all_settled(engine), 30, "the second worker to finish")
    finally:
        assert stop(again) == 0, log.read_text()
    assert states(engine) == {"sent": len(keys)}
    assert posted(slack) == Counter({k: 1 for k in keys})


@pytest.mark.postgres
def test_three_dispatchers_on_postgresql_send_each_nudge_exactly_once(
    slack: SlackStandIn, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("replicas share one PostgreSQL database")
    keys = add_due_nudges(engine, 2000)
    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    workers = [start_worker(slack, db_url, rate=100, lease=30, log=log) for log in logs]
    try:
        wait_until(all_settled(engine), 50, "three workers to send 2,000 nudges")
    finally:
        codes = [stop(w) for w in workers]
    assert codes == [0, 0, 0], [log.read_text() for log in logs]
    with Session(engine) as s:
        assert s.exec(select(func.count()).where(Nudge.kind == "ping")).one() == 2000
    assert states(engine) == {"sent": 2000}
    assert posted(slack) == Counter({k: 1 for k in keys})
    # All three took part (SKIP LOCKED let them claim side by side).
    sent_by = [int(log.read_text().split("after sending ")[-1].split()[0]) for log in logs]
    assert sum(sent_by) == 2000 and min(sent_by) > 0, sent_by


def test_feedback_loop_dispatch_runs_without_http_and_stops_cleanly_on_sigterm(
    slack: SlackStandIn, sqlite_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "dispatch.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": sqlite_url,
        "TICK_SECONDS": "0.2",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "dispatch", "--lease-seconds", "30"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        wait_until(lambda: "dispatcher running" in log.read_text(), 20, "the dispatcher to start")
    finally:
        assert stop(proc) == 0, log.read_text()
    assert "dispatcher stopped" in log.read_text()
    # It asked Slack who it is (fails fast on a bad token) and served no HTTP.
    assert slack.calls_to("auth.test")
