"""The HTTP app as Slack sees it: fast acks, requests in parallel, no secrets in logs."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot.devkit.standin import RecordedCall
from tests.conftest import DEALS, MANAGER, REP, RunningBot


def test_event_is_acked_while_slack_is_still_slow_to_answer(bot: RunningBot) -> None:
    """The DM work waits on Slack; the ack must not."""
    gate = threading.Event()

    def slow(call: RecordedCall) -> None:
        if call.method == "users.info":
            gate.wait(20)

    bot.standin.on_call = slow
    try:
        event = bot.slack.message_event(
            f"Closed Lost: Globex <@{REP}>", channel=DEALS, user=MANAGER
        )
        resp = bot.post(bot.slack.event_request(event))
        assert resp.status == 200
        assert not gate.is_set() and bot.standin.calls_to("chat.postMessage") == []
    finally:
        gate.set()
        bot.standin.on_call = None
    bot.idle()
    assert len(bot.standin.calls_to("chat.postMessage")) == 1


def test_slash_command_is_answered_while_other_requests_are_in_flight(bot: RunningBot) -> None:
    gate = threading.Event()
    entered = threading.Event()

    def slow(call: RecordedCall) -> None:
        if call.method == "users.info":
            entered.set()
            gate.wait(20)

    bot.standin.on_call = slow
    try:
        bot.post(
            bot.slack.event_request(
                bot.slack.message_event(
                    f"Closed Won: Initech <@{REP}>", channel=DEALS, user=MANAGER
                )
            )
        )
        assert entered.wait(10)
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(
                pool.map(
                    lambda _: bot.post(bot.slack.slash_command("help", user=MANAGER)), range(32)
                )
            )
        assert [r.status for r in results] == [200] * 32
        assert not gate.is_set()
    finally:
        gate.set()
        bot.standin.on_call = None
    bot.idle()


def test_url_verification_challenge_is_answered(bot: RunningBot) -> None:
    resp = bot.post(bot.slack.url_verification("challenge-xyz"))
    assert resp.status == 200 and resp.json() == {"challenge": "challenge-xyz"}


def test_secrets_never_reach_the_log(bot: RunningBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bot.send(
        bot.slack.event_request(
            bot.slack.message_event(f"Closed Lost: Globex <@{REP}>", channel=DEALS, user=MANAGER)
        )
    )
    bot.send(bot.slack.slash_command("help", user=REP))
    secrets: list[Any] = [bot.rt.settings.slack_bot_token, bot.rt.settings.slack_signing_secret]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged, "expected some debug logging to check"
    for secret in secrets:
        assert secret and secret not in logged
