"""Acks inside Slack's 3 seconds whatever Slack does: a Slack call made before the ack
has a time budget and a fallback, and the rest happens after the ack."""

from __future__ import annotations

import time

from bot.messages import reflection as reflection_messages
from tests.conftest import REP, REP2, RunningBot
from tests.support.debrief_steps import click, close_deal, find_message

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


def test_a_modal_button_acks_before_a_slow_views_open_and_the_modal_opens(
    bot: RunningBot,
) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")  # the script holds the "write your guess" button
    bot.standin.set_delay("views.open", SLOW)
    message = find_message(bot, REP, "guess_open")
    request = bot.slack.block_action(
        "guess_open", user=REP, channel=bot.standin.dm_channel(REP), message=message
    )
    started = time.monotonic()
    assert bot.post(request).status == 200
    assert time.monotonic() - started < SLOW
    bot.idle()
    [opened] = bot.standin.calls_to("views.open")
    assert opened.body["view"]["callback_id"] == "guess_log"


def test_screen_out_acks_before_a_slow_views_open(bot: RunningBot) -> None:
    bot.standin.set_delay("views.open", SLOW)
    elapsed, status = timed_post(bot, "screen-out Acme Corp", REP)
    assert status == 200 and elapsed < SLOW
    bot.idle()
    assert len(bot.standin.calls_to("views.open")) == 1
