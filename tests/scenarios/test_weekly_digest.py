"""The weekly digest: on the week's last working day, an hour after the end-of-day
reflection, each rep gets their own reflections of that week back (Monday to Sunday in
their zone) — never someone else's, never last week's."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.devkit.standin import check_message_blocks
from tests.conftest import REP, REP2, RunningBot
from tests.scenarios.test_reflection import (
    REP_TOKYO,
    TOKYO,
    at,
    know,
    open_and_submit,
    pending,
    reflection_dms,
    reflections,
    sent_to,
    set_holidays,
    submit,
    utc,
)

HEADERS = {"Your week in reflections", "Tu semana en reflexiones", "Votre semaine en réflexions"}


def digests(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    return [
        m
        for m in sent_to(bot, user)
        if m.get("blocks")
        and m["blocks"][0]["type"] == "header"
        and m["blocks"][0]["text"]["text"] in HEADERS
    ]


def digest_text(message: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")


def reflect_at(bot: RunningBot, user: str, when: datetime, went: str) -> None:
    """The evening DM arrives at `when`; the rep clicks it and writes `went`."""
    at(bot, when)
    dm = reflection_dms(bot, user)[-1]
    open_and_submit(bot, user, dm, {"went": went, "short": f"short {went}", "better": None})


def reflect_now(bot: RunningBot, user: str, when: datetime, went: str) -> None:
    """`/loop reflect` at `when`, then submit the modal."""
    bot.rt.clock.set(when)
    bot.send(bot.slack.slash_command("reflect", user=user))
    view = bot.standin.calls_to("views.open")[-1].body["view"]
    submit(bot, user, view, {"went": went, "short": None, "better": None})


def test_digest_holds_exactly_that_reps_week(bot: RunningBot) -> None:
    know(bot, REP, REP2)
    at(bot, utc(2026, 11, 20, 12))  # the Friday before
    reflect_at(bot, REP, utc(2026, 11, 20, 22, 30), "last week's news")
    at(bot, utc(2026, 11, 20, 23, 30))
    [last_week] = digests(bot, REP)
    assert "last week's news" in digest_text(last_week)

    reflect_at(bot, REP, utc(2026, 11, 23, 22, 30), "Monday: asked why we lost Globex")
    reflect_at(bot, REP2, utc(2026, 11, 24, 16, 30), "Martes de Sam")
    reflect_at(bot, REP, utc(2026, 11, 25, 22, 30), "Wednesday: listened more")
    reflect_at(bot, REP, utc(2026, 11, 27, 22, 30), "Friday: thanked Initech")

    at(bot, utc(2026, 11, 27, 23, 29))
    assert len(digests(bot, REP)) == 1  # not before 18:30 in New York
    at(bot, utc(2026, 11, 27, 23, 30))
    [_, this_week] = digests(bot, REP)
    assert check_message_blocks(this_week["blocks"]) == []
    text = digest_text(this_week)
    assert "3 evenings" in text
    for went in ("Monday: asked", "Wednesday: listened", "Friday: thanked Initech"):
        assert went in text
    # The days in the reader's locale (en-US), in order.
    first, third, fifth = (text.index(f"November {d}, 2026") for d in (23, 25, 27))
    assert first < third < fifth
    assert "Martes de Sam" not in text
    assert "last week's news" not in text

    [_, sams] = digests(bot, REP2)  # 18:30 in Madrid came first, in Spanish
    sam_text = digest_text(sams)
    assert "Martes de Sam" in sam_text
    assert "Monday" not in sam_text and "Friday" not in sam_text
    assert len(reflections(bot)) == 5


def test_a_week_without_reflections_gets_the_empty_digest(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    at(bot, utc(2026, 11, 27, 23, 30))
    [digest] = digests(bot, REP)
    assert "No reflections this week" in digest_text(digest)


def test_digest_weeks_are_the_reps_own_monday_to_sunday(bot: RunningBot) -> None:
    bot.standin.add_user(REP_TOKYO, name="kenji", tz=TOKYO, locale="en-US")
    reflect_now(bot, REP_TOKYO, utc(2026, 11, 22, 12), "Sunday night in Tokyo")
    reflect_now(bot, REP_TOKYO, utc(2026, 11, 22, 16), "Monday 01:00 in Tokyo")
    assert [r.local_date for r in reflections(bot)] == ["2026-11-22", "2026-11-23"]
    at(bot, utc(2026, 11, 23, 0))
    [due] = pending(bot, "weekly_digest", REP_TOKYO)
    assert due.due_at == utc(2026, 11, 27, 9, 30)  # Friday 18:30 JST
    at(bot, utc(2026, 11, 27, 9, 30))
    [digest] = digests(bot, REP_TOKYO)
    text = digest_text(digest)
    assert "Monday 01:00 in Tokyo" in text
    assert "one evening" in text
    assert "Sunday night in Tokyo" not in text


def test_digest_more_than_a_day_late_is_skipped_and_next_week_is_planned(
    bot: RunningBot,
) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    at(bot, utc(2026, 11, 29, 0))  # the bot was down from Friday afternoon to Saturday night
    assert digests(bot, REP) == []
    [nxt] = pending(bot, "weekly_digest", REP)
    assert nxt.due_at == utc(2026, 12, 4, 23, 30)
    assert nxt.payload == {"monday": "2026-11-30", "sunday": "2026-12-06"}


def test_digest_a_few_hours_late_still_goes_out(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    at(bot, utc(2026, 11, 28, 14))  # Saturday morning in New York
    assert len(digests(bot, REP)) == 1


def test_digest_comes_on_thursday_when_friday_is_a_holiday(bot: RunningBot) -> None:
    know(bot, REP)
    set_holidays(bot, "2026-11-27")
    at(bot, utc(2026, 11, 23, 12))
    [due] = pending(bot, "weekly_digest", REP)
    assert due.due_at == utc(2026, 11, 26, 23, 30)


def test_no_digest_after_loop_reflect_off(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    bot.send(bot.slack.slash_command("reflect off", user=REP))
    at(bot, utc(2026, 11, 27, 23, 30))
    assert digests(bot, REP) == []
    assert pending(bot, "weekly_digest", REP) == []


def test_reflections_stay_private_to_their_author(bot: RunningBot) -> None:
    """Sam cannot open or overwrite Rita's reflection by replaying her modal."""
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    reflect_at(bot, REP, utc(2026, 11, 23, 22, 30), "Rita's own words")
    view = bot.standin.calls_to("views.open")[-1].body["view"]
    assert json.loads(view["private_metadata"])["date"] == "2026-11-23"
    submit(bot, REP2, view, {"went": "Sam's words", "short": None, "better": None})
    by_author = {r.user_slack_id: r.went for r in reflections(bot)}
    assert by_author == {REP: "Rita's own words", REP2: "Sam's words"}
    updates = bot.standin.calls_to("chat.update", ok=True)
    assert len(updates) == 1  # Rita's DM changed once, for Rita; Sam got his own reply
    # Sam's Slack locale is Spanish, so his "let it go" comes in Spanish.
    let_go = bot.rt.catalog.text("es", "reflect.let_go")
    assert any(let_go in m["text"] for m in sent_to(bot, REP2))


def test_a_rep_met_after_fridays_digest_time_waits_for_next_week(bot: RunningBot) -> None:
    bot.rt.clock.set(utc(2026, 11, 28, 15))  # Saturday morning in New York
    know(bot, REP)
    at(bot, utc(2026, 11, 28, 15))
    assert digests(bot, REP) == []
    [due] = pending(bot, "weekly_digest", REP)
    assert due.due_at == utc(2026, 12, 4, 23, 30)
