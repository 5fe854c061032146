"""Quiet: pause, resume, snooze, vacations, workspace holidays and Slack's Do Not Disturb.

A quiet rep's nudges wait (none lost, none sent during the quiet time) and go out once
they are reachable again. Time moves only when a test moves the fake clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.clock import FakeClock
from bot.nudges.quiet import dnd_state_from, holiday_quiet_until, parse_snooze
from storage.models import Nudge, Person, Workspace
from tests.conftest import ADMIN, DEALS, MANAGER, REP, REP2, RunningBot

DELAY = timedelta(hours=48)


def loop(bot: RunningBot, text: str, *, user: str = REP) -> str:
    """Run `/loop <text>`; the text of its answer, in the ack or on the response_url."""
    before = len(bot.standin.calls_to("response_url"))
    resp = bot.send(bot.slack.slash_command(text, user=user))
    assert resp.status == 200
    if resp.body:
        return str(resp.json()["text"])
    later = bot.standin.calls_to("response_url")[before:]
    assert len(later) == 1, later
    return str(later[0].body["text"])


def person(bot: RunningBot, user: str = REP) -> Person:
    with Session(bot.rt.engine) as s:
        return s.exec(select(Person).where(Person.slack_id == user)).one()


def nudges(bot: RunningBot, kind: str | None = None) -> list[Nudge]:
    with Session(bot.rt.engine) as s:
        query = select(Nudge).order_by(col(Nudge.id))
        if kind:
            query = query.where(Nudge.kind == kind)
        return list(s.exec(query).all())


def dms(bot: RunningBot, user: str = REP) -> list[dict[str, Any]]:
    return bot.standin.messages(bot.standin.dm_channel(user))


def deal_posted_by_manager(bot: RunningBot, account: str = "Globex", rep: str = REP) -> None:
    bot.send(
        bot.slack.event_request(
            bot.slack.message_event(f"Closed Lost: {account} <@{rep}>", channel=DEALS, user=MANAGER)
        )
    )


# --- pause / resume ------------------------------------------------------------------------


def test_pause_and_resume_answer_and_remember(bot: RunningBot) -> None:
    assert "Paused." in loop(bot, "pause")
    assert person(bot).paused
    assert "already paused" in loop(bot, "pause")
    assert "Welcome back" in loop(bot, "resume")
    assert not person(bot).paused
    assert "not paused" in loop(bot, "resume")


def test_pause_takes_no_arguments(bot: RunningBot) -> None:
    assert "doesn't take anything after it" in loop(bot, "pause for a week")


def test_paused_reps_dm_waits_and_is_not_lost(bot: RunningBot, clock: FakeClock) -> None:
    loop(bot, "pause")
    deal_posted_by_manager(bot)
    for _ in range(3):
        clock.advance(timedelta(hours=2))
        bot.tick()
    assert dms(bot) == []
    [nudge] = nudges(bot, "deal_dm")
    assert nudge.state == "pending"

    loop(bot, "resume")
    bot.tick()
    assert len(dms(bot)) == 1
    [nudge] = nudges(bot, "deal_dm")
    # Each hourly look while paused was given back, not counted as a failed try.
    assert (nudge.state, nudge.attempts) == ("sent", 1)


def test_a_deal_the_rep_logs_themselves_reaches_them_while_paused(bot: RunningBot) -> None:
    loop(bot, "pause")
    loop(bot, "deal lost Initech")
    assert len(dms(bot)) == 1


def test_pause_only_holds_that_rep(bot: RunningBot) -> None:
    loop(bot, "pause")
    deal_posted_by_manager(bot, "Globex", REP2)
    assert len(dms(bot, REP2)) == 1 and dms(bot) == []


# --- snooze --------------------------------------------------------------------------------


def test_snooze_holds_nudges_until_it_ends(bot: RunningBot, clock: FakeClock) -> None:
    text = loop(bot, "snooze 2h")
    # 14:00 UTC is 09:00 in New York: snoozed until 11:00 there.
    assert "November 23, 2026, 11:00\u202fAM" in text  # en-US, by Babel
    deal_posted_by_manager(bot)
    clock.advance(timedelta(hours=1, minutes=59))
    bot.tick()
    assert dms(bot) == []
    clock.advance(timedelta(minutes=1))
    bot.tick()
    assert len(dms(bot)) == 1


@pytest.mark.parametrize(
    ("user", "until"),
    [
        # 09:00 on Nov 23 in New York -> 09:00 on Nov 24 there.
        (REP, datetime(2026, 11, 24, 14, 0, tzinfo=UTC)),
        # 15:00 on Nov 23 in Madrid -> 09:00 on Nov 24 there.
        (REP2, datetime(2026, 11, 24, 8, 0, tzinfo=UTC)),
    ],
    ids=["new-york", "madrid"],
)
def test_snooze_tomorrow_is_nine_the_next_morning_in_the_reps_zone(
    bot: RunningBot, user: str, until: datetime
) -> None:
    loop(bot, "snooze tomorrow", user=user)
    assert person(bot, user).snoozed_until == until


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("snooze", "Type `/loop snooze <time>`"),
        ("snooze later", "“later” isn't a time I understand"),
        ("snooze 0h", "isn't a time I understand"),
        ("snooze 200d", "up to 90 days"),
    ],
)
def test_bad_snooze_says_what_to_type(bot: RunningBot, text: str, expected: str) -> None:
    assert expected in loop(bot, text)


def test_resume_ends_a_snooze_and_releases_what_waited(bot: RunningBot, clock: FakeClock) -> None:
    loop(bot, "snooze 1w")
    deal_posted_by_manager(bot)
    clock.advance(timedelta(hours=3))
    bot.tick()
    assert dms(bot) == []
    assert "Welcome back" in loop(bot, "resume")
    bot.tick()
    assert len(dms(bot)) == 1


@pytest.mark.parametrize(
    ("word", "until"),
    [
        ("1h", datetime(2026, 11, 23, 15, 0, tzinfo=UTC)),
        ("90m", datetime(2026, 11, 23, 15, 30, tzinfo=UTC)),
        ("3d", datetime(2026, 11, 26, 14, 0, tzinfo=UTC)),
        ("1w", datetime(2026, 11, 30, 14, 0, tzinfo=UTC)),
        ("2 hours", datetime(2026, 11, 23, 16, 0, tzinfo=UTC)),
        ("soon", None),
    ],
)
def test_snooze_words(word: str, until: datetime | None) -> None:
    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert parse_snooze(word, now, "America/New_York") == until


def test_snooze_tomorrow_across_a_daylight_saving_change() -> None:
    # Europe/Madrid leaves summer time on 2026-10-25: 09:00 that day is 08:00 UTC.
    now = datetime(2026, 10, 24, 20, 0, tzinfo=UTC)
    assert parse_snooze("tomorrow", now, "Europe/Madrid") == datetime(
        2026, 10, 25, 8, 0, tzinfo=UTC
    )


# --- vacation ------------------------------------------------------------------------------


def test_vacation_holds_nudges_until_the_day_after_it_ends(
    bot: RunningBot, clock: FakeClock
) -> None:
    assert "November 23, 2026 to November 24, 2026" in loop(
        bot, "settings vacation 2026-11-23 2026-11-24"
    )
    deal_posted_by_manager(bot)
    clock.set(datetime(2026, 11, 25, 5, 0, tzinfo=UTC))  # midnight in New York: not yet
    bot.tick()
    assert dms(bot) == []
    clock.set(datetime(2026, 11, 25, 13, 59, tzinfo=UTC))  # 08:59 on the first day back
    bot.tick()
    assert dms(bot) == []
    clock.set(datetime(2026, 11, 25, 14, 0, tzinfo=UTC))  # 09:00: back, and it waited
    bot.tick()
    assert len(dms(bot)) == 1


def test_a_future_vacation_does_not_hold_todays_nudges(bot: RunningBot) -> None:
    loop(bot, "settings vacation 2026-12-20 2027-01-02")
    deal_posted_by_manager(bot)
    assert len(dms(bot)) == 1


def test_vacation_off_clears_it(bot: RunningBot) -> None:
    loop(bot, "settings vacation 2026-11-23 2026-11-30")
    assert "cleared" in loop(bot, "settings vacation off")
    assert (person(bot).vacation_start, person(bot).vacation_end) == (None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("settings vacation", "/loop settings vacation <first day> <last day>"),
        ("settings vacation next-week", "“next-week” isn't a date"),
        ("settings vacation 2026-12-20 2026-12-01", "is before your first"),
        ("settings vacation 2026-01-01 2026-01-05", "has already passed"),
        ("settings colour blue", "I don't know `/loop settings colour`"),
    ],
)
def test_bad_settings_say_what_to_type(bot: RunningBot, text: str, expected: str) -> None:
    assert expected in loop(bot, text)  # answered in the ack itself


# --- workspace holidays --------------------------------------------------------------------


def test_admin_adds_a_holiday_and_nudges_wait_for_the_next_local_day(
    bot: RunningBot, clock: FakeClock
) -> None:
    assert "Added November 23, 2026" in loop(bot, "settings holidays add 2026-11-23", user=ADMIN)
    with Session(bot.rt.engine) as s:
        assert s.exec(select(Workspace)).one().holidays == ["2026-11-23"]
    deal_posted_by_manager(bot)
    clock.set(datetime(2026, 11, 24, 5, 0, tzinfo=UTC))  # midnight after the holiday
    bot.tick()
    assert dms(bot) == []  # not in the middle of the night
    clock.set(datetime(2026, 11, 24, 14, 0, tzinfo=UTC))  # 09:00 the next day in New York
    bot.tick()
    assert len(dms(bot)) == 1


def test_only_admins_change_holidays(bot: RunningBot) -> None:
    assert "Only an admin" in loop(bot, "settings holidays add 2026-12-25")
    with Session(bot.rt.engine) as s:
        assert all(ws.holidays == [] for ws in s.exec(select(Workspace)).all())


def test_holidays_list_add_twice_and_remove(bot: RunningBot) -> None:
    loop(bot, "settings holidays add 2026-12-25", user=ADMIN)
    assert "already" in loop(bot, "settings holidays add 2026-12-25", user=ADMIN)
    loop(bot, "settings holidays add 2027-01-01", user=ADMIN)
    assert "December 25, 2026 and January 1, 2027" in loop(bot, "settings holidays")
    assert "Removed" in loop(bot, "settings holidays remove 2026-12-25", user=ADMIN)
    assert "isn't a workspace holiday" in loop(
        bot, "settings holidays remove 2026-12-25", user=ADMIN
    )
    assert "YYYY-MM-DD" in loop(bot, "settings holidays add christmas", user=ADMIN)


def test_consecutive_holidays_are_one_quiet_stretch() -> None:
    now = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)
    until = holiday_quiet_until(["2026-12-25", "2026-12-26"], "Europe/Madrid", now)
    assert until == datetime(2026, 12, 27, 8, 0, tzinfo=UTC)  # 09:00 on the 27th, Madrid
    assert holiday_quiet_until(["2026-12-24"], "Europe/Madrid", now) is None


# --- Slack's Do Not Disturb ----------------------------------------------------------------


def test_slack_do_not_disturb_snooze_holds_nudges(bot: RunningBot, clock: FakeClock) -> None:
    ends = clock.now() + timedelta(minutes=45)
    bot.standin.set_dnd(REP, snooze_enabled=True, snooze_endtime=int(ends.timestamp()))
    deal_posted_by_manager(bot)
    assert dms(bot) == []
    [nudge] = nudges(bot, "deal_dm")
    assert nudge.state == "pending" and nudge.due_at == ends
    clock.advance(timedelta(minutes=45))
    bot.tick()
    assert len(dms(bot)) == 1


def test_scheduled_do_not_disturb_hours_hold_nudges(bot: RunningBot, clock: FakeClock) -> None:
    start, end = clock.now() - timedelta(hours=1), clock.now() + timedelta(hours=2)
    bot.standin.set_dnd(
        REP, next_dnd_start_ts=int(start.timestamp()), next_dnd_end_ts=int(end.timestamp())
    )
    deal_posted_by_manager(bot)
    assert dms(bot) == []
    clock.advance(timedelta(hours=2))
    bot.tick()
    assert len(dms(bot)) == 1


def test_a_failing_dnd_info_never_blocks_a_nudge(bot: RunningBot) -> None:
    bot.standin.fail_next("dnd.info", error="missing_scope")
    deal_posted_by_manager(bot)
    assert len(dms(bot)) == 1
    assert bot.standin.calls_to("dnd.info")


def test_dnd_info_is_cached_for_a_few_minutes(bot: RunningBot) -> None:
    deal_posted_by_manager(bot, "Globex")
    deal_posted_by_manager(bot, "Initech")
    assert len(dms(bot)) == 2
    assert len(bot.standin.calls_to("dnd.info")) == 1


def test_dnd_schedule_counts_only_when_enabled_and_under_way() -> None:
    now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    start, end = int(now.timestamp()) - 60, int(now.timestamp()) + 3600
    window = {"next_dnd_start_ts": start, "next_dnd_end_ts": end}
    assert dnd_state_from({"dnd_enabled": True, **window}, now).until(now) == datetime(
        2026, 11, 23, 4, 0, tzinfo=UTC
    )
    assert dnd_state_from({"dnd_enabled": False, **window}, now).until(now) is None
    later = {"next_dnd_start_ts": end, "next_dnd_end_ts": end + 3600}
    assert dnd_state_from({"dnd_enabled": True, **later}, now).until(now) is None


def test_paused_rep_costs_no_dnd_call(bot: RunningBot) -> None:
    loop(bot, "pause")
    deal_posted_by_manager(bot)
    assert bot.standin.calls_to("dnd.info") == []


# --- /loop settings ------------------------------------------------------------------------


def test_settings_show_what_holds_nudges(bot: RunningBot) -> None:
    loop(bot, "settings holidays add 2026-12-25", user=ADMIN)
    loop(bot, "snooze 2h")
    loop(bot, "settings vacation 2026-12-20 2027-01-02")
    before = len(bot.standin.calls_to("response_url"))
    bot.send(bot.slack.slash_command("settings", user=REP))
    [call] = bot.standin.calls_to("response_url")[before:]
    shown = json.dumps(call.body["blocks"])
    assert "snoozed until November 23, 2026, 11:00\\u202fAM" in shown
    assert "December 20, 2026 to January 2, 2027" in shown
    assert "Workspace holidays:* December 25, 2026" in shown
    assert "America/New_York" in shown


def test_settings_in_the_reps_language(bot: RunningBot) -> None:
    loop(bot, "pause", user=REP2)
    before = len(bot.standin.calls_to("response_url"))
    bot.send(bot.slack.slash_command("settings", user=REP2))
    [call] = bot.standin.calls_to("response_url")[before:]
    assert "en pausa" in json.dumps(call.body["blocks"], ensure_ascii=False)


def test_help_lists_the_quiet_commands(bot: RunningBot) -> None:
    text = loop(bot, "help")
    for word in ("/loop pause", "/loop resume", "/loop snooze", "/loop settings", "/loop concern"):
        assert word in text
