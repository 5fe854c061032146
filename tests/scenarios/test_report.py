"""`/loop report`: a rep sees themselves, a manager their team, an admin everyone; a rep
asking about another rep is refused; the counts come from what happened (deals, a logged
debrief with its days to log, concern loops closed); the table stays within Slack's
limits; in the reader's language."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.devkit.standin import SlackStandIn
from tests.conftest import ADMIN, MANAGER, REP, REP2, RunningBot, start_bot
from tests.support.debrief_steps import (
    LOSS_ANSWERS,
    assert_all_block_kit_valid,
    click,
    close_deal,
    last_modal,
    set_manager,
    submit,
)


def report(bot: RunningBot, user: str, args: str = "") -> dict[str, Any]:
    """The report as it reached the asker (the message after the "working" ack)."""
    before = len(bot.standin.calls_to("response_url"))
    ack = bot.send(bot.slack.slash_command(f"report {args}".strip(), user=user)).json()
    later = bot.standin.calls_to("response_url")[before:]
    assert ack is not None and later, ack
    return later[-1].body


def table_reps(message: dict[str, Any]) -> list[str]:
    [table] = [b for b in message.get("blocks", []) if b["type"] == "table"]
    return [row[0]["elements"][0]["elements"][0]["user_id"] for row in table["rows"][1:]]


def table_row(message: dict[str, Any], rep: str) -> list[str]:
    [table] = [b for b in message["blocks"] if b["type"] == "table"]
    for row in table["rows"][1:]:
        if row[0]["elements"][0]["elements"][0]["user_id"] == rep:
            return [cell.get("text", "") for cell in row[1:]]
    raise AssertionError(f"{rep} not in the report")


def seed(bot: RunningBot) -> None:
    """REP (reports to MANAGER): Globex lost, logged two days later; Initech won; a
    concern closed. REP2 (nobody's report): Hooli lost, not logged."""
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    close_deal(bot, "won", "Initech", REP)
    close_deal(bot, "lost", "Hooli", REP2)
    bot.rt.clock.advance(timedelta(days=2))
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_log_open")
    submit(bot, REP, last_modal(bot), LOSS_ANSWERS)
    click(bot, REP, "log_confirm")


def test_a_rep_sees_their_own_counts(bot: RunningBot) -> None:
    seed(bot)
    message = report(bot, REP)
    assert table_reps(message) == [REP]
    stories, won, lost, no_decision, logged, days, calls, closed, guess = table_row(message, REP)
    assert (stories, won, lost, no_decision) == ("0", "1", "1", "0")
    assert logged == "1/2" and days == "2.0" and guess == "—"
    assert_all_block_kit_valid(bot)


def test_a_manager_sees_the_team_and_an_admin_everyone(bot: RunningBot) -> None:
    seed(bot)
    assert table_reps(report(bot, MANAGER)) == [REP]
    assert sorted(table_reps(report(bot, ADMIN))) == sorted([REP, REP2])
    assert table_reps(report(bot, ADMIN, f"month <@{REP2}|sam>")) == [REP2]


def test_a_rep_cannot_see_another_rep_nor_a_manager_outside_the_team(bot: RunningBot) -> None:
    seed(bot)
    refused = report(bot, REP, f"<@{REP2}|sam>")
    assert refused["text"] == bot.rt.catalog.text("en", "report.not_allowed", who=f"<@{REP2}>")
    assert "blocks" not in refused or not any(b["type"] == "table" for b in refused["blocks"])
    refused = report(bot, MANAGER, f"week <@{REP2}>")
    assert "table" not in str(refused.get("blocks", ""))


def test_the_period_counts_only_what_happened_in_it(bot: RunningBot) -> None:
    seed(bot)
    bot.rt.clock.advance(timedelta(days=10))
    message = report(bot, REP, "week")
    assert not any(b["type"] == "table" for b in message["blocks"])
    assert bot.rt.catalog.text("en", "report.empty") in str(message["blocks"])
    assert table_reps(report(bot, REP, "month")) == [REP]


def test_an_unknown_word_says_what_to_type(bot: RunningBot) -> None:
    reply = bot.send(bot.slack.slash_command("report yesterday", user=REP)).json()
    assert reply["text"] == bot.rt.catalog.text("en", "report.usage")


@pytest.mark.parametrize("user, lang, word", [(REP2, "es", "semana")])
def test_in_the_readers_language_with_their_words(
    bot: RunningBot, user: str, lang: str, word: str
) -> None:
    close_deal(bot, "lost", "Hooli", REP2)
    message = report(bot, user, word)
    title = bot.rt.catalog.text(
        lang, "report.title", period=bot.rt.catalog.text(lang, "report.period_week")
    )
    assert message["text"] == title
    [table] = [b for b in message["blocks"] if b["type"] == "table"]
    assert table["rows"][0][2]["text"] == bot.rt.catalog.text(lang, "report.col_won")


def test_a_big_team_fits_in_one_table(bot: RunningBot) -> None:
    """150 reps with a deal each: 99 rows and a line saying how many more."""
    from sqlmodel import Session

    from storage.models import Deal

    now = bot.rt.clock.now()
    with Session(bot.rt.engine) as s:
        for i in range(150):
            s.add(
                Deal(
                    team_id=bot.slack.team_id, account=f"A{i}", outcome="won",
                    rep_slack_id=f"U0BIG{i:04}", source="command", created_at=now,
                )
            )  # fmt: skip
        s.commit()
    message = report(bot, ADMIN)
    assert len(table_reps(message)) == 99
    assert bot.rt.catalog.text("en", "report.more_reps", n=51) in str(message["blocks"])
    assert_all_block_kit_valid(bot)


PNG = b"\x89PNG\r\n\x1a\n"


def two_weeks_of_deals(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    bot.rt.clock.advance(timedelta(days=8))
    close_deal(bot, "won", "Initech", REP)


def test_the_trend_chart_comes_to_the_dm_as_a_png(bot: RunningBot) -> None:
    two_weeks_of_deals(bot)
    report(bot, REP, "month")
    [chart] = bot.standin.uploaded_files(bot.standin.dm_channel(REP))
    assert chart["name"] == "feedback-loop-trend.png" and chart["content"].startswith(PNG)


def test_one_week_of_data_is_no_trend_and_gets_no_chart(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    report(bot, REP, "month")
    assert bot.standin.uploaded_files() == []


def test_with_charts_off_the_report_is_tables_only(
    standin: SlackStandIn, clock: FakeClock, sqlite_url: str
) -> None:
    bot, stop = start_bot(standin, clock, sqlite_url, extra_env={"REPORT_CHARTS": "off"})
    try:
        two_weeks_of_deals(bot)
        message = report(bot, REP, "month")
        assert any(b["type"] == "table" for b in message["blocks"])
        assert bot.standin.uploaded_files() == []
    finally:
        stop()
