"""The dispatcher sends what is due exactly once, ends every failure in the right state,
paces each workspace, and catches up after downtime by each kind's lateness policy.

Nudges are scheduled straight into the table (the dispatcher's input) with a small
kind of our own, then the running bot's dispatcher is ticked at the fake clock's now;
what went out is read from the Slack stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.clock import FakeClock
from bot.devkit.standin import SlackStandIn
from bot.nudges.delivery import LEASE, LOST_CLAIM, Message, register_kind, send_claimed
from bot.nudges.dispatcher import dispatch_state
from bot.nudges.registry import KindPolicy
from bot.runtime import Runtime
from storage import nudges
from storage.db import unit_of_work
from storage.models import Nudge, Person
from tests.conftest import REP, REP2, RunningBot, start_bot

TEAM = "T0001"


async def render_ping(rt: Runtime, nudge: Nudge, person: Person) -> Message:
    return Message(text=f"ping {nudge.idempotency_key}")


def add_kind(bot: RunningBot, kind: str = "ping", **policy: Any) -> None:
    policy.setdefault("respects_quiet", False)
    register_kind(bot.rt, kind, render_ping, policy=KindPolicy(**policy))


def schedule(
    bot: RunningBot, key: str, *, due: datetime | None = None, user: str = REP, kind: str = "ping"
) -> int:
    now = bot.rt.clock.now()
    with unit_of_work(bot.rt.engine) as session:
        nudge = nudges.schedule(
            session=session,
            team_id=TEAM,
            user_slack_id=user,
            kind=kind,
            due_at=due or now,
            idempotency_key=key,
            now=now,
        )
        session.flush()
        assert nudge.id is not None
        return nudge.id


def nudge(bot: RunningBot, key: str) -> Nudge:
    with Session(bot.rt.engine) as s:
        return s.exec(select(Nudge).where(Nudge.idempotency_key == key)).one()


def posts(bot: RunningBot, key: str | None = None) -> list[Any]:
    return [
        c
        for c in bot.standin.calls_to("chat.postMessage")
        if key is None or c.body.get("text") == f"ping {key}"
    ]


def delivered(bot: RunningBot) -> list[str]:
    """Texts of the DMs Slack actually stored (after any lost answers)."""
    return [m["text"] for m in bot.standin.messages() if m.get("text", "").startswith("ping ")]


def test_due_nudges_are_sent_once_and_future_ones_wait(bot: RunningBot, clock: FakeClock) -> None:
    add_kind(bot)
    schedule(bot, "now")
    schedule(bot, "later", due=clock.now() + timedelta(hours=1))
    assert bot.tick() == 1
    sent = nudge(bot, "now")
    assert sent.state == "sent" and sent.sent_ts and sent.sent_channel
    assert nudge(bot, "later").state == "pending"
    assert bot.tick() == 0
    clock.advance(timedelta(hours=1))
    bot.tick()
    assert delivered(bot) == ["ping now", "ping later"]


def test_rate_limited_nudge_goes_back_to_pending_until_retry_after(
    bot: RunningBot, clock: FakeClock
) -> None:
    add_kind(bot)
    bot.standin.fail_next("chat.postMessage", status=429, retry_after=30)
    schedule(bot, "k")
    start = clock.now()
    bot.tick()
    waiting = nudge(bot, "k")
    # Nothing was posted, the client did not retry by itself, and the attempt is not
    # counted against the nudge: a busy evening must not use up its retries.
    assert [p.status for p in posts(bot)] == [429]
    assert waiting.state == "pending" and waiting.last_error == "ratelimited"
    assert waiting.due_at == start + timedelta(seconds=30)
    assert waiting.attempts == 0
    clock.advance(timedelta(seconds=29))
    bot.tick()
    assert len(posts(bot)) == 1
    clock.advance(timedelta(seconds=1))
    bot.tick()
    assert [p.status for p in posts(bot)] == [429, 200]
    assert nudge(bot, "k").state == "sent" and delivered(bot) == ["ping k"]


def test_a_429_pauses_the_workspace_and_slows_it_down(bot: RunningBot, clock: FakeClock) -> None:
    add_kind(bot)
    for i in range(4):
        schedule(bot, f"k{i}")
    bot.standin.fail_next("chat.postMessage", status=429, retry_after=10)
    start = clock.now()
    bot.tick()
    # One refused post, then nothing for that workspace until Retry-After has passed,
    # and then slower than SEND_RATE (the bucket's rate was halved).
    assert [p.status for p in posts(bot)] == [429, 200, 200, 200, 200]
    assert sorted(delivered(bot)) == [f"ping k{i}" for i in range(4)]
    sent_at = sorted(nudge(bot, f"k{i}").updated_at or start for i in range(4))
    assert sent_at[0] >= start + timedelta(seconds=10)
    rate = bot.rt.settings.send_rate_per_second
    gaps = [(b - a).total_seconds() for a, b in zip(sent_at, sent_at[1:], strict=False)]
    assert all(gap > 1 / rate for gap in gaps)
    assert {nudge(bot, f"k{i}").attempts for i in range(4)} == {1}


# A 5xx or a lost connection while posting (uncertain, then reconciled against the DM's
# history): tests/scenarios/test_reconcile.py.


@pytest.mark.parametrize("error", ["account_inactive", "user_not_found", "channel_not_found"])
def test_permanent_error_fails_the_nudge_with_its_reason(
    bot: RunningBot, clock: FakeClock, error: str
) -> None:
    add_kind(bot)
    bot.standin.fail_next("chat.postMessage", error=error)
    schedule(bot, "k")
    bot.tick()
    n = nudge(bot, "k")
    assert (n.state, n.last_error) == ("failed", error)
    clock.advance(timedelta(days=1))
    assert bot.tick() == 0
    assert len(posts(bot)) == 1 and delivered(bot) == []


def test_server_error_before_posting_is_retried_later(bot: RunningBot, clock: FakeClock) -> None:
    add_kind(bot)
    bot.standin.fail_next("conversations.open", status=500)
    schedule(bot, "k")
    bot.tick()
    n = nudge(bot, "k")
    assert n.state == "pending" and n.attempts == 1 and n.due_at and n.due_at > clock.now()
    clock.set(n.due_at)
    bot.tick()
    assert nudge(bot, "k").state == "sent" and delivered(bot) == ["ping k"]


def claim_as_a_dead_worker(bot: RunningBot, *keys: str, posting: str | None = None) -> None:
    """Claim rows as another dispatcher would, then 'die' holding them."""
    now = bot.rt.clock.now()
    with unit_of_work(bot.rt.engine, immediate=True) as session:
        claimed = nudges.claim_due(session=session, now=now, limit=10, lease=LEASE)
        assert sorted(n.idempotency_key for n in claimed) == sorted(keys)
        for n in claimed:
            if n.idempotency_key == posting:
                assert n.id is not None
                assert nudges.mark_posting(session=session, nudge_id=n.id, now=now)


def test_expired_lease_goes_back_to_pending_unless_the_post_had_started(
    bot: RunningBot, clock: FakeClock
) -> None:
    add_kind(bot)
    schedule(bot, "claimed")
    schedule(bot, "posting")
    claim_as_a_dead_worker(bot, "claimed", "posting", posting="posting")
    assert bot.tick() == 0  # leases still held: nobody else touches them
    clock.advance(LEASE + timedelta(seconds=1))
    bot.tick()
    assert nudge(bot, "claimed").state == "sent"
    # The post had started: the row turned uncertain and, in the same tick, was checked
    # against the DM's history; the dead worker never reached Slack, so it went out once.
    assert bot.standin.calls_to("conversations.history") != []
    assert nudge(bot, "posting").state == "sent"
    assert sorted(delivered(bot)) == ["ping claimed", "ping posting"]


def test_worker_whose_lease_ran_out_does_not_post(bot: RunningBot, clock: FakeClock) -> None:
    add_kind(bot)
    nudge_id = schedule(bot, "k")
    with unit_of_work(bot.rt.engine) as session:
        stale = nudges.claim(session=session, nudge_id=nudge_id, now=clock.now(), lease=LEASE)
    assert stale is not None
    # This worker stalls past its lease; another recovers the row and sends it.
    clock.advance(LEASE + timedelta(seconds=1))
    bot.tick()
    assert nudge(bot, "k").state == "sent"
    # The stalled worker wakes up: it must not post a second time.
    assert bot.run(send_claimed(bot.rt, stale)) == LOST_CLAIM
    assert len(posts(bot)) == 1 and nudge(bot, "k").state == "sent"


def test_catch_up_after_downtime_follows_each_kinds_lateness_policy(
    bot: RunningBot, clock: FakeClock
) -> None:
    # A concern check-in is still worth sending a day late; an end-of-day reflection
    # more than two hours late is skipped, not sent in the middle of the night.
    add_kind(bot, "check_in", max_late=None)
    add_kind(bot, "evening", max_late=timedelta(hours=2))
    down_at = clock.now()
    schedule(bot, "check-in", due=down_at + timedelta(hours=1), kind="check_in")
    schedule(bot, "evening-late", due=down_at + timedelta(hours=2), kind="evening")
    schedule(bot, "evening-ok", due=down_at + timedelta(hours=20), kind="evening", user=REP2)
    clock.advance(timedelta(hours=21))  # the bot was down all that time
    bot.tick()
    assert nudge(bot, "check-in").state == "sent"
    late = nudge(bot, "evening-late")
    assert late.state == "skipped" and "too late" in (late.last_error or "")
    assert nudge(bot, "evening-ok").state == "sent"
    assert sorted(delivered(bot)) == ["ping check-in", "ping evening-ok"]


def test_missed_recurring_slots_collapse_into_the_newest(bot: RunningBot, clock: FakeClock) -> None:
    add_kind(bot, "daily", collapse_missed=True)
    start = clock.now()
    for day in range(3):
        schedule(bot, f"rep-day{day}", due=start + timedelta(days=day), kind="daily")
    schedule(bot, "rep2-day2", due=start + timedelta(days=2), kind="daily", user=REP2)
    schedule(bot, "rep-day3", due=start + timedelta(days=3), kind="daily")
    clock.set(start + timedelta(days=2, hours=1))
    bot.tick()
    assert sorted(delivered(bot)) == ["ping rep-day2", "ping rep2-day2"]
    for day in (0, 1):
        skipped = nudge(bot, f"rep-day{day}")
        assert skipped.state == "skipped" and skipped.last_error == nudges.COLLAPSED
    assert nudge(bot, "rep-day3").state == "pending"  # the next slot is untouched


def test_collapse_missed_keeps_one_persons_newest_due_slot(bot: RunningBot) -> None:
    start = bot.rt.clock.now()
    for day in range(3):
        schedule(bot, f"d{day}", due=start - timedelta(days=day), kind="daily")
    schedule(bot, "other", due=start - timedelta(days=1), kind="daily", user=REP2)
    with unit_of_work(bot.rt.engine) as session:
        n = nudges.collapse_missed(
            session=session, kind="daily", team_id=TEAM, user_slack_id=REP, now=start
        )
    assert n == 2
    states = {k: nudge(bot, k).state for k in ("d0", "d1", "d2", "other")}
    assert states == {"d0": "pending", "d1": "skipped", "d2": "skipped", "other": "pending"}


def test_sends_are_paced_at_the_workspace_rate(bot: RunningBot, clock: FakeClock) -> None:
    add_kind(bot)
    rate = bot.rt.settings.send_rate_per_second
    burst = dispatch_state(bot.rt).pacer.burst
    for i in range(20):
        schedule(bot, f"k{i:02}", user=REP if i % 2 else REP2)
    start = clock.now()
    bot.tick()
    assert len(delivered(bot)) == 20
    sent_at = sorted(nudge(bot, f"k{i:02}").updated_at or start for i in range(20))
    # A short burst at once, then one every 1/rate seconds: never more than the bucket
    # allows by any moment.
    for n, at in enumerate(sent_at, start=1):
        assert n <= burst + (at - start).total_seconds() * rate + 1e-6
    assert (sent_at[-1] - start).total_seconds() == pytest.approx((20 - burst) / rate)


@pytest.fixture
def fast_bot(standin: SlackStandIn, clock: FakeClock, sqlite_url: str) -> Iterator[RunningBot]:
    running, stop = start_bot(standin, clock, sqlite_url, extra_env={"SEND_RATE": "20"})
    yield running
    stop()


def test_send_rate_setting_sets_the_pace(fast_bot: RunningBot, clock: FakeClock) -> None:
    add_kind(fast_bot)
    for i in range(60):
        schedule(fast_bot, f"k{i:02}")
    start = clock.now()
    fast_bot.tick()
    assert len(delivered(fast_bot)) == 60
    # 20 at once (one second's worth), then 20 a second.
    assert (clock.now() - start).total_seconds() == pytest.approx(2.0)
