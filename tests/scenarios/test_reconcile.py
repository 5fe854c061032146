"""Nothing lost on a Slack error, nothing sent twice: a DM whose post ended uncertain
(a 5xx, a dropped connection, a worker killed mid-post) is looked for in the DM's
history by its message metadata, then marked sent or sent again.

The stand-in stamps messages with the fake clock's time here (`follow_clock`), as
Slack's ts are its wall clock: reconciling reads the history since a little before the
first attempt."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.clock import FakeClock
from bot.devkit.standin import DEFAULT_SCOPES, SlackStandIn
from bot.nudges.delivery import (
    HISTORY_MARGIN,
    LEASE,
    NUDGE_EVENT,
    RECONCILE_ATTEMPTS,
    RECONCILE_BATCH,
    RECONCILE_DELAY,
)
from storage import nudges
from storage.db import unit_of_work
from storage.models import Nudge
from tests.conftest import DEALS, MANAGER, REP, REP2, RunningBot, start_bot
from tests.scenarios.test_dispatcher import add_kind, delivered, nudge, posts, schedule


@pytest.fixture
def synced(standin: SlackStandIn, clock: FakeClock, db_url: str) -> Iterator[RunningBot]:
    """The running bot on SQLite and PostgreSQL, its Slack stamping ts by the fake clock."""
    standin.follow_clock(lambda: clock.now().timestamp())
    running, stop = start_bot(standin, clock, db_url)
    add_kind(running)
    yield running
    stop()


def history_calls(bot: RunningBot) -> list[Any]:
    return bot.standin.calls_to("conversations.history")


def stored(bot: RunningBot, key: str) -> list[dict[str, Any]]:
    """The messages Slack holds in the rep's DM for this nudge."""
    return [
        m for m in bot.standin.messages(bot.standin.dm_channel(REP)) if m["text"] == f"ping {key}"
    ]


def reconcile_later(bot: RunningBot, clock: FakeClock, by: timedelta = RECONCILE_DELAY) -> None:
    clock.advance(by)
    bot.tick()


def test_every_dm_carries_its_nudges_key_in_message_metadata(synced: RunningBot) -> None:
    nudge_id = schedule(synced, "k")
    synced.tick()
    [post] = posts(synced, "k")
    assert post.body["metadata"] == {
        "event_type": NUDGE_EVENT,
        "event_payload": {"key": "k", "nudge_id": nudge_id},
    }
    # Slack kept it with the message, hidden from the rep, and no warning came back.
    [message] = stored(synced, "k")
    assert message["metadata"] == post.body["metadata"]
    assert "warning" not in post.response


def test_a_500_before_slack_posted_still_gives_exactly_one_dm(
    synced: RunningBot, clock: FakeClock
) -> None:
    synced.standin.fail_next("chat.postMessage", status=500)
    schedule(synced, "k")
    synced.tick()
    first = nudge(synced, "k")
    assert first.state == "uncertain" and stored(synced, "k") == []
    # Not looked at before its time: Slack's history may lag just after a 5xx.
    synced.tick()
    assert history_calls(synced) == []

    reconcile_later(synced, clock)
    [look] = history_calls(synced)
    assert look.body["channel"] == synced.standin.dm_channel(REP)
    assert look.body["include_all_metadata"] in ("1", "true", True)
    assert float(look.body["oldest"]) == pytest.approx(
        (first.first_post_at - HISTORY_MARGIN).timestamp()  # type: ignore[operator]
    )
    assert int(look.body["limit"]) <= 20
    [message] = stored(synced, "k")
    sent = nudge(synced, "k")
    assert (sent.state, sent.sent_ts, sent.sent_channel) == (
        "sent",
        message["ts"],
        synced.standin.dm_channel(REP),
    )
    assert [p.status for p in posts(synced, "k")] == [500, 200]
    # A later look would still start from the first attempt.
    assert sent.first_post_at == first.first_post_at
    clock.advance(timedelta(days=1))
    synced.tick()
    assert delivered(synced) == ["ping k"]


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_after_slack_posted_is_found_in_the_dm_and_never_reposted(
    synced: RunningBot, clock: FakeClock, status: int
) -> None:
    synced.standin.fail_next("chat.postMessage", status=status, after_processing=True)
    schedule(synced, "k")
    synced.tick()
    n = nudge(synced, "k")
    assert n.state == "uncertain" and f"HTTP {status}" in (n.last_error or "")
    reconcile_later(synced, clock)
    [message] = stored(synced, "k")
    sent = nudge(synced, "k")
    assert (sent.state, sent.sent_ts) == ("sent", message["ts"])
    clock.advance(timedelta(days=1))
    synced.tick()
    assert len(posts(synced, "k")) == 1 and delivered(synced) == ["ping k"]
    assert len(history_calls(synced)) == 1


@pytest.mark.parametrize("posted", [True, False], ids=["after-posting", "before-posting"])
def test_a_connection_dropped_mid_send_ends_in_exactly_one_dm(
    synced: RunningBot, clock: FakeClock, posted: bool
) -> None:
    synced.standin.fail_connection_next("chat.postMessage", after_processing=posted)
    schedule(synced, "k")
    synced.tick()
    n = nudge(synced, "k")
    assert n.state == "uncertain" and "connection lost" in (n.last_error or "")
    reconcile_later(synced, clock)
    assert nudge(synced, "k").state == "sent"
    clock.advance(timedelta(days=1))
    synced.tick()
    assert delivered(synced) == ["ping k"]
    assert len(posts(synced, "k")) == (1 if posted else 2)


def test_our_dm_is_found_behind_a_page_of_the_reps_own_messages(
    synced: RunningBot, clock: FakeClock
) -> None:
    synced.standin.fail_next("chat.postMessage", status=500, after_processing=True)
    schedule(synced, "k")
    synced.tick()
    # The rep chats with the bot meanwhile: our message is no longer on the first page.
    for i in range(45):
        clock.advance(timedelta(milliseconds=100))
        synced.standin.post_as_user(REP, synced.standin.dm_channel(REP), f"note {i}")
    reconcile_later(synced, clock)
    assert nudge(synced, "k").state == "sent"
    assert len(posts(synced, "k")) == 1 and delivered(synced) == ["ping k"]
    assert len(history_calls(synced)) == 3  # 20 + 20 + the page with ours


def test_another_nudges_dm_is_not_taken_for_this_one(synced: RunningBot, clock: FakeClock) -> None:
    schedule(synced, "other")
    synced.tick()
    synced.standin.fail_next("chat.postMessage", status=500)
    schedule(synced, "k")
    synced.tick()
    reconcile_later(synced, clock)
    assert nudge(synced, "k").state == "sent"
    assert sorted(delivered(synced)) == ["ping k", "ping other"]


def test_unreadable_history_keeps_it_uncertain_and_is_tried_again_never_reposted(
    synced: RunningBot, clock: FakeClock
) -> None:
    # An install from before im:history was added: the scope is missing.
    synced.standin.scopes = DEFAULT_SCOPES.replace("im:history,", "")
    synced.standin.fail_next("chat.postMessage", status=500, after_processing=True)
    schedule(synced, "k")
    synced.tick()
    reconcile_later(synced, clock)
    n = nudge(synced, "k")
    assert n.state == "uncertain" and "missing_scope" in (n.last_error or "")
    assert n.reconcile_attempts == 1 and n.due_at > clock.now()
    assert [c.response["error"] for c in history_calls(synced)] == ["missing_scope"]
    # Not before its back-off; then again.
    synced.tick()
    assert len(history_calls(synced)) == 1
    clock.set(n.due_at)
    synced.tick()
    assert len(history_calls(synced)) == 2 and nudge(synced, "k").state == "uncertain"
    assert len(posts(synced, "k")) == 1
    # The admin reinstalls with the scope: the next look finds it.
    synced.standin.scopes = DEFAULT_SCOPES
    clock.set(nudge(synced, "k").due_at)
    synced.tick()
    assert nudge(synced, "k").state == "sent"
    assert len(posts(synced, "k")) == 1 and delivered(synced) == ["ping k"]


def test_history_failing_every_time_gives_up_with_an_error_and_never_resends(
    synced: RunningBot, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Slack lost the post's answer, then cannot show the DM for hours.
    synced.standin.fail_next("chat.postMessage", status=500)
    synced.standin.fail_next("conversations.history", status=500, times=RECONCILE_ATTEMPTS + 5)
    schedule(synced, "k")
    synced.tick()
    for _ in range(RECONCILE_ATTEMPTS + 3):
        reconcile_later(synced, clock, timedelta(hours=2))
    n = nudge(synced, "k")
    assert n.state == "uncertain" and n.reconcile_attempts == RECONCILE_ATTEMPTS
    assert len(history_calls(synced)) == RECONCILE_ATTEMPTS
    assert [p.status for p in posts(synced, "k")] == [500]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "uncertain" in r.message]
    assert len(errors) == 1 and "not resent" in errors[0].message


def test_a_dm_that_is_gone_when_checked_fails_the_nudge_without_resending(
    synced: RunningBot, clock: FakeClock
) -> None:
    synced.standin.fail_next("chat.postMessage", status=500)
    synced.standin.fail_next("conversations.history", error="channel_not_found")
    schedule(synced, "k")
    synced.tick()
    reconcile_later(synced, clock)
    n = nudge(synced, "k")
    assert (n.state, n.last_error) == ("failed", "could not check the DM: channel_not_found")
    clock.advance(timedelta(days=1))
    synced.tick()
    assert [p.status for p in posts(synced, "k")] == [500] and delivered(synced) == []


def test_a_dm_found_missing_too_late_for_its_kind_is_skipped_not_sent_at_night(
    synced: RunningBot, clock: FakeClock
) -> None:
    add_kind(synced, "evening", max_late=timedelta(hours=2))
    synced.standin.fail_next("chat.postMessage", status=500)
    synced.standin.fail_next("conversations.history", status=503, times=4)
    schedule(synced, "k", kind="evening")
    synced.tick()
    for _ in range(5):
        reconcile_later(synced, clock, timedelta(hours=1))
    n = nudge(synced, "k")
    assert (n.state, n.last_error) == ("skipped", "not posted, and too late to send again")
    assert [p.status for p in posts(synced, "k")] == [500] and delivered(synced) == []


def test_a_rate_limited_history_read_waits_and_does_not_count(
    synced: RunningBot, clock: FakeClock
) -> None:
    synced.standin.fail_next("chat.postMessage", status=500, after_processing=True)
    synced.standin.fail_next("conversations.history", status=429, retry_after=20)
    schedule(synced, "k")
    synced.tick()
    reconcile_later(synced, clock)
    n = nudge(synced, "k")
    assert (n.state, n.reconcile_attempts) == ("uncertain", 0)
    reconcile_later(synced, clock, timedelta(seconds=20))
    assert nudge(synced, "k").state == "sent" and len(posts(synced, "k")) == 1


def test_a_reconciler_that_dies_leaves_the_row_uncertain_not_pending(
    synced: RunningBot, clock: FakeClock
) -> None:
    synced.standin.fail_next("chat.postMessage", status=500, after_processing=True)
    schedule(synced, "k")
    synced.tick()
    clock.advance(RECONCILE_DELAY)
    with unit_of_work(synced.rt.engine, immediate=True) as session:
        [held] = nudges.claim_uncertain(
            session=session, now=clock.now(), limit=5, lease=LEASE, max_attempts=8
        )
    assert held.state == "sending"
    # Nobody else takes it while it is held ...
    synced.tick()
    assert history_calls(synced) == [] and len(posts(synced, "k")) == 1
    # ... and once its lease runs out it is uncertain again (the tick's housekeeping) and
    # checked against the DM in the same tick, not blindly resent.
    clock.advance(LEASE + timedelta(seconds=1))
    synced.tick()
    assert [c.body["channel"] for c in history_calls(synced)] != []
    assert nudge(synced, "k").state == "sent"
    assert len(posts(synced, "k")) == 1 and delivered(synced) == ["ping k"]


def test_a_worker_killed_mid_post_is_settled_by_the_next_one(
    synced: RunningBot, clock: FakeClock
) -> None:
    # A dispatcher claimed the nudge, started the post (Slack stored it) and died.
    nudge_id = schedule(synced, "k")
    now = clock.now()
    with unit_of_work(synced.rt.engine) as session:
        held = nudges.claim(session=session, nudge_id=nudge_id, now=now, lease=LEASE)
        assert held is not None
        assert nudges.mark_posting(session=session, nudge_id=nudge_id, now=now)
    synced.standin.post_as_user(REP, REP, "hi")  # something else in the DM
    synced.run(
        synced.rt.client.chat_postMessage(
            channel=REP,
            text="ping k",
            metadata={"event_type": NUDGE_EVENT, "event_payload": {"key": "k"}},
        )
    )
    clock.advance(LEASE + timedelta(seconds=1))
    synced.tick()  # the lease ran out: uncertain
    synced.tick()  # looked for and found
    n = nudge(synced, "k")
    assert n.state == "sent" and n.sent_ts == stored(synced, "k")[0]["ts"]
    assert len(stored(synced, "k")) == 1


def test_a_deal_dm_through_slacks_requests_arrives_once_despite_a_500(
    synced: RunningBot, clock: FakeClock
) -> None:
    synced.standin.fail_next("chat.postMessage", status=500)
    event = synced.slack.message_event(f"Closed Lost: Globex <@{REP}>", channel=DEALS, user=MANAGER)
    assert synced.send(synced.slack.event_request(event)).status == 200
    with Session(synced.rt.engine) as s:
        [deal_dm] = s.exec(select(Nudge).where(Nudge.kind == "deal_dm")).all()
    assert deal_dm.state == "uncertain"
    reconcile_later(synced, clock)
    dms = [
        m for m in synced.standin.messages(synced.standin.dm_channel(REP)) if "Globex" in m["text"]
    ]
    assert len(dms) == 1
    with Session(synced.rt.engine) as s:
        [deal_dm] = s.exec(select(Nudge).where(Nudge.kind == "deal_dm")).all()
    assert (deal_dm.state, deal_dm.sent_ts) == ("sent", dms[0]["ts"])
    clock.advance(timedelta(days=1))
    synced.tick()
    again = [
        m for m in synced.standin.messages(synced.standin.dm_channel(REP)) if "Globex" in m["text"]
    ]
    assert again == dms


def test_a_slack_incident_settles_a_morning_of_dms_a_batch_per_tick(
    synced: RunningBot, clock: FakeClock
) -> None:
    keys = [f"k{i:02}" for i in range(RECONCILE_BATCH + 3)]
    # Half stored before Slack failed, half not: every rep still gets exactly one DM.
    for i, key in enumerate(keys):
        synced.standin.fail_next("chat.postMessage", status=500, after_processing=i % 2 == 0)
        schedule(synced, key)
    synced.tick()
    assert {nudge(synced, k).state for k in keys} == {"uncertain"}
    reconcile_later(synced, clock)
    assert len(history_calls(synced)) == RECONCILE_BATCH
    reconcile_later(synced, clock, timedelta(seconds=5))
    assert {nudge(synced, k).state for k in keys} == {"sent"}
    assert sorted(delivered(synced)) == [f"ping {k}" for k in keys]


def test_one_uncertain_row_is_held_by_one_reconciler_at_a_time(
    synced: RunningBot, clock: FakeClock
) -> None:
    synced.standin.fail_next("chat.postMessage", status=500, times=2)
    schedule(synced, "a")
    schedule(synced, "b", user=REP2)
    synced.tick()
    clock.advance(RECONCILE_DELAY)

    def take(limit: int, max_attempts: int = RECONCILE_ATTEMPTS) -> list[str]:
        with unit_of_work(synced.rt.engine, immediate=True) as session:
            found = nudges.claim_uncertain(
                session=session,
                now=clock.now(),
                limit=limit,
                lease=LEASE,
                max_attempts=max_attempts,
            )
            return [n.idempotency_key for n in found]

    assert take(1) == ["a"]
    assert take(5) == ["b"]
    assert take(5) == []
