"""`GET /metrics`: the numbers move as the bot works. Requests by kind and status with
their ack latency, refusals, nudges by kind and state read from the table, the
dispatcher's lag growing while a due nudge waits, and Slack's 429s and errors counted
by method, for the dispatcher's sends too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlmodel import Session, select

from bot.metrics import MULTIPROC_ENV, Metrics
from storage.models import Nudge
from tests.conftest import REP, RunningBot
from tests.support.debrief_steps import close_deal


def scrape(bot: RunningBot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(bot.url + "/metrics", timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/plain")
        text = resp.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def first_pending_due(bot: RunningBot) -> datetime:
    with Session(bot.rt.engine) as session:
        due = [n.due_at for n in session.exec(select(Nudge)).all() if n.state == "pending"]
    assert due and all(d is not None for d in due)
    return min(d for d in due if d is not None)


def test_requests_are_counted_by_kind_and_status_with_their_ack_time(bot: RunningBot) -> None:
    before = scrape(bot)
    assert value(before, "feedback_loop_requests_total", kind="command", status="200") == 0
    assert bot.send(bot.slack.slash_command("help", user=REP)).status == 200
    assert bot.send(bot.slack.slash_command("help", user=REP)).status == 200
    unsigned = bot.slack.slash_command("help", user=REP, secret="not-the-signing-secret")
    assert bot.post(unsigned).status == 401

    after = scrape(bot)
    assert value(after, "feedback_loop_requests_total", kind="command", status="200") == 2
    assert value(after, "feedback_loop_requests_total", kind="refused", status="401") == 1
    assert value(after, "feedback_loop_ack_seconds_count", kind="command") == 2
    assert value(after, "feedback_loop_ack_seconds_bucket", kind="command", le="3.0") == 2


def test_nudges_by_state_and_the_dispatcher_lag_come_from_the_table(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    pending = {
        key: n
        for key, n in scrape(bot).items()
        if key[0] == "feedback_loop_nudges" and dict(key[1])["state"] == "pending"
    }
    waiting = sum(pending.values())
    assert waiting >= 1  # the deal's DM is a row first, sent by the dispatcher
    assert value(scrape(bot), "feedback_loop_dispatcher_lag_seconds") == 0  # none due yet
    with Session(bot.rt.engine) as session:
        first_due = min(n.due_at for n in session.exec(select(Nudge)).all() if n.state == "pending")
    assert first_due is not None
    bot.rt.clock.set(first_due + timedelta(minutes=10))
    lag = value(scrape(bot), "feedback_loop_dispatcher_lag_seconds")
    assert lag == 600

    bot.tick()
    after = scrape(bot)
    assert value(after, "feedback_loop_dispatcher_lag_seconds") == 0
    sent = sum(
        n
        for key, n in after.items()
        if key[0] == "feedback_loop_nudges" and dict(key[1])["state"] == "sent"
    )
    assert sent >= waiting


def test_slack_429s_and_errors_are_counted_by_method_for_the_dispatcher_too(
    bot: RunningBot,
) -> None:
    close_deal(bot, "lost", "Globex", REP)  # its DM goes out at once, with the runtime's client
    assert (
        value(scrape(bot), "feedback_loop_slack_rate_limited_total", method="chat.postMessage") == 0
    )
    bot.rt.clock.set(first_pending_due(bot))
    bot.standin.fail_next("chat.postMessage", status=429, retry_after=1)
    bot.tick()  # the dispatcher's own client, which does not retry a 429
    samples = scrape(bot)
    assert value(samples, "feedback_loop_slack_rate_limited_total", method="chat.postMessage") == 1

    bot.standin.fail_next("views.publish", error="invalid_arguments")
    home = {"type": "app_home_opened", "user": REP, "channel": "D" + REP[1:], "tab": "home"}
    assert bot.send(bot.slack.event_request(home)).status == 200
    samples = scrape(bot)
    assert (
        value(
            samples,
            "feedback_loop_slack_api_errors_total",
            method="views.publish",
            error="invalid_arguments",
        )
        == 1
    )


CHILD = """
from bot.metrics import Metrics
m = Metrics()
m.rate_limited.labels("chat.postMessage").inc(3)
m.slack_errors.labels("chat.postMessage", "channel_not_found").inc()
"""


def test_a_dispatcher_childs_counts_reach_the_servers_scrape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`feedback-loop run` shares one directory between the server and its dispatcher
    child (prometheus_client's multiprocess mode); what the child counts is scraped."""
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    subprocess.run([sys.executable, "-c", CHILD], env=env, check=True, timeout=60)
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    text = Metrics().exposition()[0].decode()
    assert 'feedback_loop_slack_rate_limited_total{method="chat.postMessage"} 3.0' in text
    assert 'error="channel_not_found"' in text


def get(bot: RunningBot, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(bot.url + path, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_readyz_says_not_ready_while_the_schema_is_behind(bot: RunningBot) -> None:
    """A replica that started before `feedback-loop migrate` ran takes no traffic."""
    assert get(bot, "/readyz") == (200, {"ok": True})
    assert get(bot, "/healthz") == (200, {"ok": True})
    with bot.rt.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    assert get(bot, "/readyz") == (503, {"ok": False, "error": "schema_out_of_date"})
    assert get(bot, "/healthz") == (200, {"ok": True})  # alive all the same
