"""App Home: a rep opening the app sees their recent deals and how to start."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import DEALS, MANAGER, REP, REP2, RunningBot


def home_opened(bot: RunningBot, user: str, tab: str = "home") -> Any:
    event = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user[1:],
        "tab": tab,
        "event_ts": "1700000000.000100",
    }
    return bot.slack.event_request(event)


def published_text(bot: RunningBot, user: str) -> str:
    [call] = [c for c in bot.standin.calls_to("views.publish") if c.body.get("user_id") == user]
    view = call.body["view"]
    assert view["type"] == "home"
    return "\n".join(b["text"]["text"] for b in view["blocks"] if "text" in b)


def test_home_lists_the_reps_recent_deals(bot: RunningBot) -> None:
    bot.send(
        bot.slack.event_request(
            bot.slack.message_event(f"Closed Lost: Globex <@{REP}>", channel=DEALS, user=MANAGER)
        )
    )
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


def test_home_shows_open_concerns_and_debriefs_not_yet_logged(bot: RunningBot) -> None:
    bot.send(
        bot.slack.event_request(
            bot.slack.message_event(f"Closed Lost: Globex <@{REP}>", channel=DEALS, user=MANAGER)
        )
    )
    bot.send(bot.slack.slash_command("concern Initech — the price is too high", user=REP))
    bot.send(home_opened(bot, REP))
    text = published_text(bot, REP)
    assert "Initech" in text and "the price is too high" in text
    assert (
        bot.rt.catalog.text(
            "en",
            "home.debrief_line",
            account="Globex",
            outcome=bot.rt.catalog.text("en", "deal.outcome_lost"),
        )
        in text
    )
    assert bot.rt.catalog.text("en", "home.loops_empty") not in text


def test_a_manager_sees_each_reps_latest_deal(bot: RunningBot) -> None:
    from tests.support.debrief_steps import set_manager

    bot.send(
        bot.slack.event_request(
            bot.slack.message_event(f"Closed Won: Hooli <@{REP}>", channel=DEALS, user=MANAGER)
        )
    )
    set_manager(bot, REP, MANAGER)
    bot.send(home_opened(bot, MANAGER))
    text = published_text(bot, MANAGER)
    assert bot.rt.catalog.text("en", "home.team_header") in text
    assert f"<@{REP}>" in text and "Hooli" in text


def latest_text(bot: RunningBot, user: str) -> str:
    [*_, call] = [c for c in bot.standin.calls_to("views.publish") if c.body["user_id"] == user]
    return "\n".join(b["text"]["text"] for b in call.body["view"]["blocks"] if "text" in b)


@pytest.mark.parametrize(("manager", "lang"), [(MANAGER, "en"), (REP2, "es"), ("U0FR", "fr")])
def test_the_team_table_counts_debriefs_to_log_and_flags_a_loss_streak(
    bot: RunningBot, manager: str, lang: str
) -> None:
    """A manager's team lines: debriefs not logged yet (a count) and two or more losses
    in a row, in the manager's language; the rep's own Home has no team table."""
    from tests.support.debrief_steps import close_deal, set_manager

    bot.standin.add_user("U0FR", name="fleur", tz="Europe/Paris", locale="fr-FR")
    set_manager(bot, REP, manager)
    close_deal(bot, "won", "Hooli", REP)
    close_deal(bot, "lost", "Globex", REP)
    bot.send(home_opened(bot, manager))
    text = latest_text(bot, manager)
    catalog = bot.rt.catalog
    assert catalog.text(lang, "home.team_pending", n=2) in text
    assert catalog.text(lang, "home.team_streak", n=1) not in text  # one loss is no streak
    close_deal(bot, "lost", "Initech", REP)
    bot.send(home_opened(bot, manager))
    text = latest_text(bot, manager).split(catalog.text(lang, "home.team_header"))[-1]
    assert catalog.text(lang, "home.team_pending", n=3) in text
    assert catalog.text(lang, "home.team_streak", n=2) in text
    bot.send(home_opened(bot, REP))
    assert catalog.text("en", "home.team_header") not in latest_text(bot, REP)
