"""End-of-day reflection: 17:30 in each rep's own zone, on working days, then let it go.

The slot arithmetic is asserted as UTC instants across the 2026 daylight-saving changes
(US: 8 March and 1 November; EU: 29 March and 25 October); the rest drives the running
bot with a fake clock and reads what reached the Slack stand-in."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.clock import FakeClock
from bot.devkit.requests import plain_text_value
from bot.devkit.standin import check_message_blocks, check_view
from bot.nudges.reflection_schedule import local_instant, next_digest_slot, next_reflection_slot
from bot.slack.people import load_person
from storage.access import REP as REP_ROLE
from storage.access import grant
from storage.db import unit_of_work
from storage.models import Nudge, Person, Reflection, Workspace
from tests.conftest import REP, REP2, RunningBot

TEAM = "T0001"
REP_TOKYO = "U0REP3"
WEEKDAYS = (0, 1, 2, 3, 4)
EOD = time(17, 30)
NY, MADRID, TOKYO = "America/New_York", "Europe/Madrid", "Asia/Tokyo"
LOS_ANGELES = "America/Los_Angeles"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the slot arithmetic ------------------------------------------------------------------

SLOTS = [
    # (now, zone, expected next slot)
    pytest.param(utc(2026, 3, 6, 12), NY, utc(2026, 3, 6, 22, 30), id="new-york-friday-est"),
    pytest.param(utc(2026, 3, 6, 23), NY, utc(2026, 3, 9, 21, 30), id="new-york-over-us-dst-start"),
    pytest.param(
        utc(2026, 10, 30, 22), NY, utc(2026, 11, 2, 22, 30), id="new-york-over-us-dst-end"
    ),
    pytest.param(
        utc(2026, 3, 27, 17), MADRID, utc(2026, 3, 30, 15, 30), id="madrid-over-eu-dst-start"
    ),
    pytest.param(
        utc(2026, 10, 23, 16), MADRID, utc(2026, 10, 26, 16, 30), id="madrid-over-eu-dst-end"
    ),
    pytest.param(
        utc(2026, 3, 6, 23), MADRID, utc(2026, 3, 9, 16, 30), id="madrid-unmoved-by-us-dst"
    ),
    pytest.param(
        utc(2026, 3, 20, 12), NY, utc(2026, 3, 20, 21, 30), id="new-york-between-the-changes"
    ),
    pytest.param(
        utc(2026, 3, 20, 12), MADRID, utc(2026, 3, 20, 16, 30), id="madrid-between-the-changes"
    ),
    pytest.param(utc(2026, 3, 6, 9), TOKYO, utc(2026, 3, 9, 8, 30), id="tokyo-friday-evening"),
    pytest.param(utc(2026, 3, 29, 0), TOKYO, utc(2026, 3, 30, 8, 30), id="tokyo-no-dst"),
    pytest.param(utc(2026, 11, 1, 12), TOKYO, utc(2026, 11, 2, 8, 30), id="tokyo-on-us-dst-end"),
    pytest.param(utc(2026, 11, 23, 22, 29), NY, utc(2026, 11, 23, 22, 30), id="one-minute-before"),
    pytest.param(
        utc(2026, 11, 23, 22, 30), NY, utc(2026, 11, 24, 22, 30), id="at-the-slot-means-next"
    ),
    pytest.param(
        utc(2026, 11, 24, 2), NY, utc(2026, 11, 24, 22, 30), id="after-utc-midnight-same-local"
    ),
]


@pytest.mark.parametrize(("now", "zone", "expected"), SLOTS)
def test_next_reflection_slot_is_half_past_five_local(
    now: datetime, zone: str, expected: datetime
) -> None:
    assert next_reflection_slot(now, zone, EOD, WEEKDAYS, ()) == expected


@pytest.mark.parametrize(
    ("day", "at", "zone", "expected"),
    [
        pytest.param(
            date(2026, 3, 8), time(2, 30), NY, utc(2026, 3, 8, 7, 30), id="us-skipped-hour"
        ),
        pytest.param(
            date(2026, 11, 1), time(1, 30), NY, utc(2026, 11, 1, 5, 30), id="us-repeated-hour"
        ),
        pytest.param(
            date(2026, 3, 29), time(2, 30), MADRID, utc(2026, 3, 29, 1, 30), id="eu-skipped-hour"
        ),
        pytest.param(
            date(2026, 10, 25), time(2, 30), MADRID, utc(2026, 10, 25, 0, 30), id="eu-repeated"
        ),
    ],
)
def test_wall_times_that_dst_skips_or_repeats_pick_the_sensible_instant(
    day: date, at: time, zone: str, expected: datetime
) -> None:
    from zoneinfo import ZoneInfo

    assert local_instant(day, at, ZoneInfo(zone)) == expected


def test_end_of_day_in_the_skipped_hour_still_fires_once_that_day() -> None:
    every_day = tuple(range(7))
    slot = next_reflection_slot(utc(2026, 3, 8, 0), NY, time(2, 30), every_day)
    assert slot == utc(2026, 3, 8, 7, 30)  # 03:30 EDT, the first moment past 02:30
    after = next_reflection_slot(slot, NY, time(2, 30), every_day)
    assert after == utc(2026, 3, 9, 6, 30)


def test_end_of_day_in_the_repeated_hour_fires_only_the_first_time() -> None:
    every_day = tuple(range(7))
    slot = next_reflection_slot(utc(2026, 11, 1, 0), NY, time(1, 30), every_day)
    assert slot == utc(2026, 11, 1, 5, 30)
    assert next_reflection_slot(slot, NY, time(1, 30), every_day) == utc(2026, 11, 2, 6, 30)


def test_weekends_holidays_and_custom_working_days_are_skipped() -> None:
    friday_evening = utc(2026, 11, 27, 23)
    assert next_reflection_slot(friday_evening, NY, EOD, WEEKDAYS) == utc(2026, 11, 30, 22, 30)
    wednesday_late = utc(2026, 11, 25, 23)
    assert next_reflection_slot(wednesday_late, NY, EOD, WEEKDAYS, ["2026-11-26"]) == utc(
        2026, 11, 27, 22, 30
    )
    mon_tue_thu = (0, 1, 3)
    assert next_reflection_slot(utc(2026, 11, 24, 23), NY, EOD, mon_tue_thu) == utc(
        2026, 11, 26, 22, 30
    )


def test_unknown_or_missing_zone_falls_back_to_utc() -> None:
    now = utc(2026, 11, 23, 12)
    assert next_reflection_slot(now, None, EOD, WEEKDAYS) == utc(2026, 11, 23, 17, 30)
    assert next_reflection_slot(now, "Mars/Olympus", EOD, WEEKDAYS) == utc(2026, 11, 23, 17, 30)


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        pytest.param(utc(2026, 3, 2, 12), NY, utc(2026, 3, 6, 23, 30), id="new-york-friday"),
        pytest.param(utc(2026, 3, 7, 12), NY, utc(2026, 3, 13, 22, 30), id="new-york-after-dst"),
        pytest.param(
            utc(2026, 10, 19, 12), MADRID, utc(2026, 10, 23, 16, 30), id="madrid-before-dst-end"
        ),
        pytest.param(
            utc(2026, 10, 26, 12), MADRID, utc(2026, 10, 30, 17, 30), id="madrid-after-dst-end"
        ),
        pytest.param(utc(2026, 3, 6, 10), TOKYO, utc(2026, 3, 13, 9, 30), id="tokyo-next-week"),
    ],
)
def test_next_digest_is_an_hour_after_fridays_reflection(
    now: datetime, zone: str, expected: datetime
) -> None:
    day, slot = next_digest_slot(now, zone, EOD, WEEKDAYS, ())
    assert slot == expected
    assert day.weekday() == 4


def test_digest_moves_to_thursday_when_friday_is_a_holiday() -> None:
    day, slot = next_digest_slot(utc(2026, 11, 23, 12), NY, EOD, WEEKDAYS, ["2026-11-27"])
    assert day == date(2026, 11, 26)
    assert slot == utc(2026, 11, 26, 23, 30)


# --- helpers for the running bot -----------------------------------------------------------


@pytest.fixture
def tokyo(bot: RunningBot) -> str:
    bot.standin.add_user(REP_TOKYO, name="kenji", tz=TOKYO, locale="fr-FR")
    return REP_TOKYO


def know(bot: RunningBot, *users: str) -> None:
    """The bot learns about a person the way it always does: users.info on first contact."""
    for user in users:
        bot.run(load_person(bot.rt, team_id=TEAM, user_id=user))
        # Reflections go to reps: these people are listed as reps on the team.
        with unit_of_work(bot.rt.engine) as session:
            grant(
                session=session,
                team_id=TEAM,
                slack_id=user,
                role=REP_ROLE,
                by=None,
                now=datetime.now(UTC),
            )


def nudges_of(bot: RunningBot, kind: str, user: str | None = None) -> list[Nudge]:
    with Session(bot.rt.engine) as s:
        query = select(Nudge).where(Nudge.kind == kind)
        if user:
            query = query.where(Nudge.user_slack_id == user)
        return list(s.exec(query.order_by(Nudge.due_at)).all())


def pending(bot: RunningBot, kind: str, user: str) -> list[Nudge]:
    return [n for n in nudges_of(bot, kind, user) if n.state == "pending"]


def sent_to(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    """Bodies of the DMs Slack accepted for this user, oldest first."""
    dm = bot.standin.dm_channel(user)
    return [
        {**c.body, "ts": c.response.get("ts")}
        for c in bot.standin.calls_to("chat.postMessage", ok=True)
        if c.body.get("channel") in {user, dm}
    ]


def reflection_dms(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    return [m for m in sent_to(bot, user) if "reflect_open" in action_ids(m)]


def action_ids(body: dict[str, Any]) -> set[str]:
    return {
        el["action_id"]
        for block in body.get("blocks") or []
        if block.get("type") == "actions"
        for el in block["elements"]
    }


def at(bot: RunningBot, when: datetime) -> int:
    """Move the clock to `when` and run the dispatcher there, twice: the planner adds
    the next slot on the tick after a reflection went out, as the next real tick would."""
    assert isinstance(bot.rt.clock, FakeClock)
    bot.rt.clock.set(when)
    return bot.tick() + bot.tick()


def set_person(bot: RunningBot, user: str, **values: Any) -> None:
    with Session(bot.rt.engine) as s:
        person = s.exec(select(Person).where(Person.slack_id == user)).one()
        for key, value in values.items():
            setattr(person, key, value)
        s.add(person)
        s.commit()


def set_holidays(bot: RunningBot, *days: str) -> None:
    with Session(bot.rt.engine) as s:
        ws = s.get(Workspace, TEAM) or Workspace(team_id=TEAM)
        ws.holidays = list(days)
        s.add(ws)
        s.commit()


def open_and_submit(
    bot: RunningBot,
    user: str,
    dm: dict[str, Any],
    answers: dict[str, str | None],
) -> dict[str, Any]:
    """Click "Reflect now" on the DM, then submit the modal the bot opened."""
    before = len(bot.standin.calls_to("views.open"))
    message = {"type": "message", "ts": dm["ts"], "blocks": dm["blocks"], "text": dm["text"]}
    bot.send(
        bot.slack.block_action(
            "reflect_open", user=user, channel=bot.standin.dm_channel(user), message=message
        )
    )
    opened = bot.standin.calls_to("views.open")
    assert len(opened) == before + 1
    view = opened[-1].body["view"]
    submit(bot, user, view, answers)
    return view


def submit(bot: RunningBot, user: str, view: dict[str, Any], answers: dict[str, str | None]) -> Any:
    values = {name: {"v": plain_text_value(value)} for name, value in answers.items()}
    return bot.send(
        bot.slack.view_submission(
            view["callback_id"],
            values,
            user=user,
            private_metadata=view["private_metadata"],
            blocks=view["blocks"],
        )
    )


def reflections(bot: RunningBot) -> list[Reflection]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Reflection).order_by(Reflection.local_date)).all())


# --- through the running bot ------------------------------------------------------------------


def test_reflections_fire_at_half_past_five_in_new_york_madrid_and_tokyo(
    bot: RunningBot, tokyo: str
) -> None:
    know(bot, REP, REP2, tokyo)
    at(bot, utc(2026, 3, 6, 3))  # Friday: 22:00 Thu in New York, 12:00 Fri in Tokyo
    due = {n.user_slack_id: n.due_at for n in nudges_of(bot, "reflection")}
    assert due == {
        REP: utc(2026, 3, 6, 22, 30),
        REP2: utc(2026, 3, 6, 16, 30),
        tokyo: utc(2026, 3, 6, 8, 30),
    }

    at(bot, utc(2026, 3, 6, 8, 29))
    assert reflection_dms(bot, tokyo) == []
    at(bot, utc(2026, 3, 6, 8, 30))
    assert len(reflection_dms(bot, tokyo)) == 1
    assert "Deux minutes" in reflection_dms(bot, tokyo)[0]["blocks"][0]["text"]["text"]

    at(bot, utc(2026, 3, 6, 16, 29, 59))
    assert reflection_dms(bot, REP2) == []
    at(bot, utc(2026, 3, 6, 16, 30))
    [madrid] = reflection_dms(bot, REP2)
    assert "nuevo enfoque" in madrid["blocks"][0]["text"]["text"]
    assert check_message_blocks(madrid["blocks"]) == []

    at(bot, utc(2026, 3, 6, 22, 29))
    assert reflection_dms(bot, REP) == []
    at(bot, utc(2026, 3, 6, 22, 30))
    assert len(reflection_dms(bot, REP)) == 1
    assert [len(reflection_dms(bot, u)) for u in (REP, REP2, tokyo)] == [1, 1, 1]


def test_over_the_us_dst_change_new_york_moves_an_hour_in_utc_and_madrid_does_not(
    bot: RunningBot,
) -> None:
    know(bot, REP, REP2)
    at(bot, utc(2026, 3, 7, 12))  # Saturday: the next slots are Monday
    assert [n.due_at for n in pending(bot, "reflection", REP)] == [utc(2026, 3, 9, 21, 30)]
    assert [n.due_at for n in pending(bot, "reflection", REP2)] == [utc(2026, 3, 9, 16, 30)]

    at(bot, utc(2026, 3, 9, 16, 30))  # 17:30 CET
    assert len(reflection_dms(bot, REP2)) == 1
    at(bot, utc(2026, 3, 9, 21, 29))
    assert len(reflection_dms(bot, REP)) == 0
    at(bot, utc(2026, 3, 9, 21, 30))  # 17:30 EDT
    assert len(reflection_dms(bot, REP)) == 1
    assert [n.due_at for n in pending(bot, "reflection", REP2)] == [utc(2026, 3, 10, 16, 30)]


def test_over_the_eu_dst_end_madrid_moves_an_hour_later_in_utc(bot: RunningBot) -> None:
    know(bot, REP2)
    at(bot, utc(2026, 10, 23, 12))
    at(bot, utc(2026, 10, 23, 15, 30))  # Friday 17:30 CEST
    assert len(reflection_dms(bot, REP2)) == 1
    assert [n.due_at for n in pending(bot, "reflection", REP2)] == [utc(2026, 10, 26, 16, 30)]
    at(bot, utc(2026, 10, 26, 15, 30))  # 16:30 CET on Monday: not yet
    assert len(reflection_dms(bot, REP2)) == 1
    at(bot, utc(2026, 10, 26, 16, 30))
    assert len(reflection_dms(bot, REP2)) == 2


def test_no_reflection_on_the_weekend(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 27, 12))
    at(bot, utc(2026, 11, 27, 22, 30))  # Friday's
    assert len(reflection_dms(bot, REP)) == 1
    when = utc(2026, 11, 27, 23)
    while when < utc(2026, 11, 30, 22):  # every hour through Sunday night
        when += timedelta(hours=1)
        at(bot, when)
    assert len(reflection_dms(bot, REP)) == 1
    at(bot, utc(2026, 11, 30, 22, 30))
    assert len(reflection_dms(bot, REP)) == 2


def test_no_reflection_on_a_workspace_holiday(bot: RunningBot) -> None:
    know(bot, REP)
    set_holidays(bot, "2026-11-26")  # Thanksgiving, a Thursday
    at(bot, utc(2026, 11, 25, 12))
    at(bot, utc(2026, 11, 25, 22, 30))
    assert len(reflection_dms(bot, REP)) == 1
    assert [n.payload["local_date"] for n in pending(bot, "reflection", REP)] == ["2026-11-27"]
    at(bot, utc(2026, 11, 26, 22, 30))
    assert len(reflection_dms(bot, REP)) == 1


def test_a_day_made_a_holiday_after_planning_is_skipped_not_sent(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    set_holidays(bot, "2026-11-23")
    at(bot, utc(2026, 11, 23, 22, 30))
    assert reflection_dms(bot, REP) == []
    states = [(n.payload["local_date"], n.state) for n in nudges_of(bot, "reflection", REP)]
    assert states == [("2026-11-23", "skipped"), ("2026-11-24", "pending")]


def test_no_reflection_while_paused_and_the_next_one_after_resuming(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    set_person(bot, REP, paused=True)
    at(bot, utc(2026, 11, 23, 22, 30))
    at(bot, utc(2026, 11, 24, 22, 30))
    assert reflection_dms(bot, REP) == []
    assert pending(bot, "reflection", REP) == []
    set_person(bot, REP, paused=False)
    at(bot, utc(2026, 11, 25, 12))
    assert [n.due_at for n in pending(bot, "reflection", REP)] == [utc(2026, 11, 25, 22, 30)]
    at(bot, utc(2026, 11, 25, 22, 30))
    assert len(reflection_dms(bot, REP)) == 1


def test_more_than_two_hours_late_is_skipped_and_only_the_next_slot_is_scheduled(
    bot: RunningBot,
) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))  # Monday's slot is planned, then the bot is down
    at(bot, utc(2026, 11, 26, 3))  # back at 22:00 on Wednesday, New York time
    assert reflection_dms(bot, REP) == []
    rows = [(n.payload["local_date"], n.state) for n in nudges_of(bot, "reflection", REP)]
    assert rows == [("2026-11-23", "skipped"), ("2026-11-26", "pending")]


def test_back_within_two_hours_of_todays_slot_sends_today_once(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    at(bot, utc(2026, 11, 25, 23))  # back on Wednesday at 18:00 in New York
    bot.tick()
    assert len(reflection_dms(bot, REP)) == 1
    rows = [(n.payload["local_date"], n.state) for n in nudges_of(bot, "reflection", REP)]
    assert rows == [("2026-11-23", "skipped"), ("2026-11-25", "sent"), ("2026-11-26", "pending")]


def test_up_to_two_hours_late_is_still_sent(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    at(bot, utc(2026, 11, 24, 0, 29))  # 19:29 in New York
    assert len(reflection_dms(bot, REP)) == 1
    assert [n.payload["local_date"] for n in pending(bot, "reflection", REP)] == ["2026-11-24"]


def test_a_changed_time_zone_applies_from_the_next_slot(bot: RunningBot) -> None:
    bot.rt.clock.set(utc(2026, 11, 22, 12))
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    # Rita moves to Los Angeles and Slack says so; the slot already planned stays as it
    # was, and sending it refreshes her profile from Slack.
    bot.standin.add_user(REP, name="rita", real_name="Rita Rep", tz=LOS_ANGELES)
    assert [n.due_at for n in pending(bot, "reflection", REP)] == [utc(2026, 11, 23, 22, 30)]
    at(bot, utc(2026, 11, 23, 22, 30))  # 14:30 in Los Angeles
    assert len(reflection_dms(bot, REP)) == 1
    # Monday was reflected on already, so the next is Tuesday 17:30 PST.
    [nxt] = pending(bot, "reflection", REP)
    assert (nxt.payload["local_date"], nxt.due_at) == ("2026-11-24", utc(2026, 11, 25, 1, 30))


def test_moving_west_never_sends_the_same_local_day_twice(bot: RunningBot, tokyo: str) -> None:
    know(bot, tokyo)
    at(bot, utc(2026, 11, 24, 0))
    at(bot, utc(2026, 11, 24, 8, 30))  # Tuesday 17:30 in Tokyo
    assert len(reflection_dms(bot, tokyo)) == 1
    set_person(bot, tokyo, tz=NY)  # still Monday evening-to-be in New York... then Tuesday
    at(bot, utc(2026, 11, 24, 9))
    dates = [n.payload["local_date"] for n in pending(bot, "reflection", tokyo)]
    assert dates == ["2026-11-25"]  # Tuesday was done in Tokyo; Wednesday in New York


def test_only_people_get_reflections_not_bots_nor_deactivated_users(bot: RunningBot) -> None:
    bot.standin.add_user("U0GONE", name="gone", deleted=False)
    know(bot, REP, "U0GONE", bot.standin.bot_user_id)
    set_person(bot, "U0GONE", deleted=True)
    at(bot, utc(2026, 11, 23, 12))
    assert {n.user_slack_id for n in nudges_of(bot, "reflection")} == {REP}


def test_reflect_now_button_opens_the_modal_and_saving_lets_it_go(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    at(bot, utc(2026, 11, 23, 22, 30))
    [dm] = reflection_dms(bot, REP)
    view = open_and_submit(
        bot,
        REP,
        dm,
        {
            "went": "Asked two clients what I could do better.",
            "short": "Talked over Globex's CFO.",
            "better": "Let the silence sit.",
        },
    )
    assert check_view(view) == []
    # No practice focus yet: the three questions, then the optional "I'm working on…".
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == [
        "went",
        "short",
        "better",
        "next_focus",
    ]
    [saved] = reflections(bot)
    assert (saved.user_slack_id, saved.local_date) == (REP, "2026-11-23")
    assert (saved.went, saved.short, saved.better) == (
        "Asked two clients what I could do better.",
        "Talked over Globex's CFO.",
        "Let the silence sit.",
    )
    [update] = bot.standin.calls_to("chat.update", ok=True)
    assert update.body["ts"] == dm["ts"]
    assert "let it go" in update.body["text"]


def test_reflecting_again_the_same_day_starts_from_what_was_written(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    at(bot, utc(2026, 11, 23, 22, 30))
    [dm] = reflection_dms(bot, REP)
    open_and_submit(bot, REP, dm, {"went": "First try", "short": None, "better": None})
    view = open_and_submit(bot, REP, dm, {"went": "Second try", "short": "x", "better": None})
    assert view["blocks"][1]["element"]["initial_value"] == "First try"  # [0]: who reads it
    [saved] = reflections(bot)
    assert (saved.went, saved.short, saved.better) == ("Second try", "x", "")


def test_a_blank_answer_to_the_first_question_is_refused_and_nothing_saved(
    bot: RunningBot,
) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    at(bot, utc(2026, 11, 23, 22, 30))
    [dm] = reflection_dms(bot, REP)
    message = {"type": "message", "ts": dm["ts"], "blocks": dm["blocks"], "text": dm["text"]}
    bot.send(bot.slack.block_action("reflect_open", user=REP, message=message))
    view = bot.standin.calls_to("views.open")[-1].body["view"]
    resp = submit(bot, REP, view, {"went": "   ", "short": "something", "better": None})
    assert resp.json()["response_action"] == "errors"
    assert "went" in resp.json()["errors"]
    assert reflections(bot) == []


def test_skip_today_answers_in_place(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    at(bot, utc(2026, 11, 23, 22, 30))
    [dm] = reflection_dms(bot, REP)
    message = {"type": "message", "ts": dm["ts"], "blocks": dm["blocks"], "text": dm["text"]}
    bot.send(
        bot.slack.block_action(
            "reflect_skip", user=REP, channel=bot.standin.dm_channel(REP), message=message
        )
    )
    [update] = bot.standin.calls_to("chat.update", ok=True)
    assert "See you tomorrow" in update.body["text"]
    assert reflections(bot) == []


def test_loop_reflect_opens_the_modal_for_today_in_the_reps_zone(bot: RunningBot) -> None:
    bot.rt.clock.set(utc(2026, 11, 24, 3))  # 22:00 Monday in New York, Tuesday in UTC
    resp = bot.send(bot.slack.slash_command("reflect", user=REP))
    assert resp.status == 200
    [opened] = bot.standin.calls_to("views.open")
    view = opened.body["view"]
    assert json.loads(view["private_metadata"])["date"] == "2026-11-23"
    submit(bot, REP, view, {"went": "Tried the humble ask", "short": None, "better": None})
    [saved] = reflections(bot)
    assert saved.local_date == "2026-11-23"
    assert any("let it go" in m["text"] for m in sent_to(bot, REP))


def test_loop_reflect_off_stops_reflections_and_on_brings_them_back(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    assert len(pending(bot, "reflection", REP)) == 1
    resp = bot.send(bot.slack.slash_command("reflect off", user=REP))
    assert "/loop reflect on" in resp.json()["text"]
    assert pending(bot, "reflection", REP) == []
    assert pending(bot, "weekly_digest", REP) == []
    at(bot, utc(2026, 11, 23, 22, 30))
    at(bot, utc(2026, 11, 27, 23, 30))
    assert sent_to(bot, REP) == []

    resp = bot.send(bot.slack.slash_command("reflect on", user=REP))
    assert "5:30\u202fPM" in resp.json()["text"]  # en-US, by Babel
    at(bot, utc(2026, 11, 30, 12))
    assert [n.due_at for n in pending(bot, "reflection", REP)] == [utc(2026, 11, 30, 22, 30)]


def test_loop_reflect_with_a_word_it_does_not_know_says_what_to_type(bot: RunningBot) -> None:
    resp = bot.send(bot.slack.slash_command("reflect tomorrow", user=REP2))
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    assert "/loop reflect off" in body["text"]
    assert bot.standin.calls_to("views.open") == []


def test_the_planner_schedules_one_reflection_per_rep_however_often_it_ticks(
    bot: RunningBot,
) -> None:
    know(bot, REP, REP2)
    for minute in range(5):
        at(bot, utc(2026, 11, 23, 12, minute))
    assert sorted(n.user_slack_id for n in nudges_of(bot, "reflection")) == sorted([REP, REP2])
    assert sorted(n.user_slack_id for n in nudges_of(bot, "weekly_digest")) == sorted([REP, REP2])


def test_planner_bulk_inserts_one_slot_per_rep_on_each_database(db_url: str) -> None:
    """The planner's batch insert and its skip-what-exists query, on SQLite and (with
    TEST_DATABASE_URL) PostgreSQL, without going through Slack."""
    from sqlalchemy import update

    from bot.runtime import build_runtime
    from bot.settings import load_settings
    from handlers.reflection import PLAN_BATCH, plan
    from storage.db import unit_of_work

    env = {"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_SIGNING_SECRET": "s", "DATABASE_URL": db_url}
    clock = FakeClock(utc(2026, 11, 23, 12))
    rt = build_runtime(load_settings(env, env_file=None), clock=clock)
    try:
        count = PLAN_BATCH + 5  # more than one batch
        zones = [NY, MADRID, TOKYO]
        with unit_of_work(rt.engine) as s:
            for i in range(count):
                # Listed as reps (they have a manager): reflections go to reps.
                person = Person(team_id=TEAM, slack_id=f"U{i:05d}", tz=zones[i % 3])
                person.manager_slack_id = "U0MGR1"
                s.add(person)
            s.add(Person(team_id=TEAM, slack_id="U0BOT", is_bot=True))
        assert plan(rt) == 2 * count
        assert plan(rt) == 0
        with Session(rt.engine) as s:
            due = {
                n.user_slack_id: n.due_at
                for n in s.exec(select(Nudge).where(Nudge.kind == "reflection")).all()
            }
        assert len(due) == count
        assert due["U00000"] == utc(2026, 11, 23, 22, 30)
        assert due["U00001"] == utc(2026, 11, 23, 16, 30)
        assert due["U00002"] == utc(2026, 11, 24, 8, 30)
        with unit_of_work(rt.engine) as s:
            s.execute(update(Nudge).where(Nudge.kind == "reflection").values(state="sent"))
        clock.set(utc(2026, 11, 24, 9))
        assert plan(rt) == count  # each rep's next slot, past the one just sent
        with Session(rt.engine) as s:
            tokyo_next = s.exec(
                select(Nudge).where(Nudge.user_slack_id == "U00002", Nudge.state == "pending")
            ).all()
        assert [(n.kind, n.payload) for n in tokyo_next if n.kind == "reflection"] == [
            ("reflection", {"local_date": "2026-11-25"})
        ]
    finally:
        rt.engine.dispose()


def test_the_let_go_answer_reuses_the_dm_the_evening_nudge_opened(bot: RunningBot) -> None:
    """One DM opener for nudges and replies: the evening DM opened the conversation, so
    the answer to a reflection written from `/loop reflect` (no DM to update) is posted
    there without opening it again."""
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    at(bot, utc(2026, 11, 23, 22, 30))
    [dm] = reflection_dms(bot, REP)
    assert len(bot.standin.calls_to("conversations.open")) == 1
    bot.send(bot.slack.slash_command("reflect", user=REP))
    view = bot.standin.calls_to("views.open")[-1].body["view"]
    submit(bot, REP, view, {"went": "Asked for the intro", "short": None, "better": None})
    posts = [c.body for c in bot.standin.calls_to("chat.postMessage", ok=True)]
    assert "let it go" in posts[-1]["text"]
    assert posts[-1]["channel"] == dm["channel"] == bot.standin.dm_channel(REP)
    assert len(bot.standin.calls_to("conversations.open")) == 1
