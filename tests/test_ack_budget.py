"""Acks inside Slack's 3 seconds whatever Slack does: a Slack call made before the ack
has a time budget and a fallback, and the rest happens after the ack."""

from __future__ import annotations

import time

from bot.messages import reflection as reflection_messages
from tests.conftest import REP, REP2, RunningBot

SLOW = 2.0  # seconds per Slack call, as on the slow day in the report


def timed_post(bot: RunningBot, text: str, user: str) -> tuple[float, int]:
    started = time.monotonic()
    resp = bot.post(bot.slack.slash_command(text, user=user))
    return time.monotonic() - started, resp.status


def test_reflect_for_a_first_time_user_acks_in_time_and_still_opens_the_modal(
    bot: RunningBot,
) -> None:
    bot.standin.set_delay("users.info", SLOW)
    bot.standin.set_delay("views.open", SLOW)
    elapsed, status = timed_post(bot, "reflect", REP)
    assert status == 200
    assert elapsed < 3.0, f"acked after {elapsed:.1f}s"
    bot.idle()
    [opened] = bot.standin.calls_to("views.open")
    assert opened.body["view"]["callback_id"] == reflection_messages.CALLBACK_ID
    assert len(bot.standin.calls_to("users.info")) == 1  # one lookup, shared


def test_a_slow_first_lookup_answers_in_english_then_in_the_readers_language(
    bot: RunningBot,
) -> None:
    bot.standin.set_delay("users.info", SLOW)
    elapsed, status = timed_post(bot, "help", REP2)
    assert status == 200 and elapsed < 3.0
    bot.idle()  # the lookup finished after the ack
    bot.standin.set_delay("users.info", None)
    resp = bot.post(bot.slack.slash_command("help", user=REP2))
    assert "/loop" in resp.json()["text"]
    english = bot.post(bot.slack.slash_command("help", user=REP)).json()["text"]
    assert resp.json()["text"] != english  # Spanish now that Slack answered
