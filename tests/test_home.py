"""App Home: a rep opening the app sees their recent deals and how to start."""

from __future__ import annotations

from typing import Any

from tests.conftest import DEALS, MANAGER, REP, REP2, RunningBot


def home_opened(bot: RunningBot, user: str, tab: str = "home") -> Any:
    event = {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": tab,
             "event_ts": "1700000000.000100"}
    return bot.slack.event_request(event)


def published_text(bot: RunningBot, user: str) -> str:
    [call] = [c for c in bot.standin.calls_to("views.publish") if c.body.get("user_id") == user]
    view = call.body["view"]
    assert view["type"] == "home"
    return "\n".join(b["text"]["text"] for b in view["blocks"] if "text" in b)


def test_home_lists_the_reps_recent_deals(bot: RunningBot) -> None:
    bot.send(bot.slack.event_request(bot.slack.message_event(
        f"Closed Lost: Globex <@{REP}>", channel=DEALS, user=MANAGER)))
    assert bot.send(home_opened(bot, REP)).status == 200
    text = published_text(bot, REP)
    assert "Globex" in text and bot.rt.catalog.text("en", "deal.outcome_lost") in text


def test_home_of_a_new_spanish_rep_is_in_spanish_and_says_how_to_start(bot: RunningBot) -> None:
    bot.send(home_opened(bot, REP2))
    text = published_text(bot, REP2)
    assert bot.rt.catalog.text("es", "home.empty") in text


def test_opening_the_messages_tab_publishes_nothing(bot: RunningBot) -> None:
    assert bot.send(home_opened(bot, REP, tab="messages")).status == 200
    assert bot.standin.calls_to("views.publish") == []
