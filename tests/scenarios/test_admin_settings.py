"""An admin's settings in App Home: the Settings button (admins only), its modal with the
effective values, field errors that say what to type, and a save that applies at once —
the next evening DM at the new time, deals read from the new channel, the new loss
streak — without a restart. A rep's forged submission changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.clock import FakeClock
from bot.devkit.standin import SlackStandIn, check_view
from bot.slack import ids
from bot.slack.people import load_person
from bot.workspace_settings import effective
from storage.access import ADMIN as ADMIN_ROLE
from storage.access import REP as REP_ROLE
from storage.access import grant, has_grant
from storage.db import unit_of_work
from storage.models import Nudge, Workspace, WorkspaceSetting
from tests.conftest import (
    ADMIN,
    DEALS,
    MANAGER,
    OTHER,
    REP,
    REP2,
    BotServer,
    RunningBot,
    start_bot,
)
from tests.support.debrief_steps import action_ids, close_deal, dm_messages

TEAM = "T0001"
NEW_DEALS = "C0WINS"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- driving App Home and the modal as Slack would ---------------------------------------


def open_home(bot: RunningBot, user: str) -> dict[str, Any]:
    event = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user[1:],
        "tab": "home",
        "event_ts": "1700000000.000100",
    }
    assert bot.send(bot.slack.event_request(event)).status == 200
    calls = [c for c in bot.standin.calls_to("views.publish") if c.body.get("user_id") == user]
    view = dict(calls[-1].body["view"])
    assert check_view(view) == []
    return view


def home_actions(view: dict[str, Any]) -> set[str]:
    found = set()
    for block in view["blocks"]:
        accessory = block.get("accessory") or {}
        if accessory.get("action_id"):
            found.add(accessory["action_id"])
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("action_id"):
                found.add(element["action_id"])
    return found


def open_settings(bot: RunningBot, user: str = ADMIN) -> dict[str, Any]:
    home = open_home(bot, user)
    assert ids.SETTINGS_OPEN in home_actions(home)
    before = len(bot.standin.calls_to("views.open", ok=True))
    bot.send(bot.slack.block_action(ids.SETTINGS_OPEN, user=user, view=home))
    calls = bot.standin.calls_to("views.open", ok=True)
    assert len(calls) == before + 1
    view = dict(calls[-1].body["view"])
    assert view["callback_id"] == ids.SETTINGS_MODAL and check_view(view) == []
    return view


def _untouched(element: dict[str, Any]) -> dict[str, Any]:
    """What Slack sends for an input the admin left as it was."""
    kind = element["type"]
    if kind == "multi_conversations_select":
        return {"type": kind, "selected_conversations": element.get("initial_conversations", [])}
    if kind == "conversations_select":
        return {"type": kind, "selected_conversation": element.get("initial_conversation")}
    if kind == "timepicker":
        return {"type": kind, "selected_time": element.get("initial_time")}
    if kind == "checkboxes":
        return {"type": kind, "selected_options": element.get("initial_options", [])}
    if kind == "multi_users_select":
        return {"type": kind, "selected_users": element.get("initial_users", [])}
    if kind == "number_input":
        return {
            "type": kind,
            "value": element.get("initial_value"),
            "is_decimal_allowed": element["is_decimal_allowed"],
        }
    return {"type": kind, "value": element.get("initial_value")}


def values_of(view: dict[str, Any], **changes: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """The modal's state with `changes` (block id -> the element's new fields)."""
    values = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        state = _untouched(block["element"])
        state.update(changes.get(block["block_id"], {}))
        values[block["block_id"]] = {ids.FIELD_VALUE: state}
    return values


def submit_settings(
    bot: RunningBot, view: dict[str, Any], *, user: str = ADMIN, **changes: Any
) -> dict[str, Any]:
    request = bot.slack.view_submission(
        ids.SETTINGS_MODAL,
        values_of(view, **changes),
        user=user,
        private_metadata=view.get("private_metadata", ""),
        blocks=view["blocks"],
    )
    result = bot.send(request)
    assert result.status == 200
    return result.json() if result.body else {}


def days(*numbers: int) -> dict[str, Any]:
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return {
        "selected_options": [
            {"text": {"type": "plain_text", "text": names[n]}, "value": str(n)} for n in numbers
        ]
    }


def stored(bot: RunningBot) -> dict[str, dict[str, Any]]:
    with Session(bot.rt.engine) as s:
        rows = s.exec(select(WorkspaceSetting).where(WorkspaceSetting.team_id == TEAM)).all()
        return {r.key: dict(r.value) for r in rows}


def know_rep(bot: RunningBot, user: str) -> None:
    bot.run(load_person(bot.rt, team_id=TEAM, user_id=user))
    with unit_of_work(bot.rt.engine) as session:
        grant(
            session=session,
            team_id=TEAM,
            slack_id=user,
            role=REP_ROLE,
            by=None,
            now=utc(2026, 1, 1),
        )


def reflections(bot: RunningBot, state: str | None = None) -> list[Nudge]:
    with Session(bot.rt.engine) as s:
        rows = s.exec(
            select(Nudge).where(Nudge.kind == "reflection", Nudge.user_slack_id == REP)
        ).all()
        return [n for n in rows if state is None or n.state == state]


def at(bot: RunningBot, when: datetime) -> None:
    bot.rt.clock.set(when)  # type: ignore[attr-defined]
    bot.tick()
    bot.tick()


def reflection_dms(bot: RunningBot) -> list[dict[str, Any]]:
    return [m for m in dm_messages(bot, REP) if "reflect_open" in action_ids(m)]


@pytest.fixture
def bot_with_env_admin(
    standin: SlackStandIn, clock: FakeClock, sqlite_url: str, bot_server: BotServer
) -> Iterator[RunningBot]:
    """A bot whose configuration names REP2 in ADMINS."""
    running, stop = start_bot(
        standin, clock, sqlite_url, server=bot_server, extra_env={"ADMINS": REP2}
    )
    yield running
    stop()


# --- who sees the button -------------------------------------------------------------------


def test_only_an_admins_home_has_the_settings_button(bot: RunningBot) -> None:
    assert ids.SETTINGS_OPEN in home_actions(open_home(bot, ADMIN))
    for user in (REP, MANAGER):
        assert ids.SETTINGS_OPEN not in home_actions(open_home(bot, user))


def test_the_modal_shows_the_effective_values_from_the_environment(bot: RunningBot) -> None:
    view = open_settings(bot)
    blocks = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert blocks[ids.SETTINGS_DEALS]["element"]["initial_conversations"] == [DEALS]
    assert blocks[ids.SETTINGS_END_OF_DAY]["element"]["initial_time"] == "17:30"
    chosen = blocks[ids.SETTINGS_DAYS]["element"]["initial_options"]
    assert [o["value"] for o in chosen] == ["0", "1", "2", "3", "4"]
    assert blocks[ids.SETTINGS_STREAK]["element"]["initial_value"] == "3"
    assert blocks[ids.SETTINGS_REMINDER]["element"]["initial_value"] == "3"
    assert blocks[ids.SETTINGS_CONCERN]["element"]["initial_value"] == "48"
    assert blocks[ids.SETTINGS_FOLLOWUP]["element"]["initial_value"] == "7"


def test_saving_unchanged_stores_nothing(bot: RunningBot) -> None:
    view = open_settings(bot)
    assert submit_settings(bot, view) == {}
    assert stored(bot) == {}


# --- applied without a restart ---------------------------------------------------------------


def test_a_new_end_of_day_moves_the_next_reflection_without_a_restart(bot: RunningBot) -> None:
    know_rep(bot, REP)  # New York
    at(bot, utc(2026, 11, 23, 12))  # Monday morning: tonight's is planned for 17:30
    assert [n.due_at for n in reflections(bot, "pending")] == [utc(2026, 11, 23, 22, 30)]

    view = open_settings(bot)
    submit_settings(bot, view, **{ids.SETTINGS_END_OF_DAY: {"selected_time": "16:00"}})
    assert stored(bot)["end_of_day"] == {"value": "16:00"}

    bot.tick()  # the planner plans the evening again, at the new time
    assert [n.due_at for n in reflections(bot, "pending")] == [utc(2026, 11, 23, 21, 0)]
    at(bot, utc(2026, 11, 23, 20, 59))
    assert reflection_dms(bot) == []
    at(bot, utc(2026, 11, 23, 21, 0))
    assert len(reflection_dms(bot)) == 1
    # And the next evening too.
    assert [n.due_at for n in reflections(bot, "pending")] == [utc(2026, 11, 24, 21, 0)]


def test_working_days_changed_to_include_saturday(bot: RunningBot) -> None:
    know_rep(bot, REP)
    at(bot, utc(2026, 11, 28, 12))  # Saturday: the next one is Monday's
    assert [n.payload["local_date"] for n in reflections(bot, "pending")] == ["2026-11-30"]
    view = open_settings(bot)
    submit_settings(bot, view, **{ids.SETTINGS_DAYS: days(0, 1, 2, 3, 4, 5)})
    bot.tick()
    assert [n.payload["local_date"] for n in reflections(bot, "pending")] == ["2026-11-28"]


def test_a_deal_in_the_new_deals_channel_starts_a_ritual_and_the_old_one_no_more(
    bot: RunningBot,
) -> None:
    bot.standin.add_channel(NEW_DEALS, "wins")
    view = open_settings(bot)
    submit_settings(bot, view, **{ids.SETTINGS_DEALS: {"selected_conversations": [NEW_DEALS]}})
    assert stored(bot)["deals_channels"] == {"channels": [NEW_DEALS]}

    old = bot.slack.message_event(f"Closed Lost: Globex <@{REP}>", channel=DEALS, user=MANAGER)
    bot.send(bot.slack.event_request(old))
    assert dm_messages(bot, REP) == []
    new = bot.slack.message_event(f"Closed Lost: Initech <@{REP}>", channel=NEW_DEALS, user=MANAGER)
    bot.send(bot.slack.event_request(new))
    [dm] = dm_messages(bot, REP)
    assert "Initech" in json.dumps(dm)


def test_the_loss_streak_length_applies_to_the_next_losses(bot: RunningBot) -> None:
    view = open_settings(bot)
    submit_settings(bot, view, **{ids.SETTINGS_STREAK: {"value": "2"}})
    assert bot.run(effective(bot.rt, TEAM)).loss_streak == 2
    close_deal(bot, "lost", "Globex", REP)
    close_deal(bot, "lost", "Umbrella", REP)
    bot.tick()
    with Session(bot.rt.engine) as s:
        offers = s.exec(select(Nudge).where(Nudge.kind == "loss_streak_offer")).all()
    assert [o.payload["count"] for o in offers] == [2]


def test_holidays_and_admins_are_saved_with_the_rest(bot: RunningBot) -> None:
    bot.rt.clock.set(utc(2026, 11, 23, 12))  # type: ignore[attr-defined]
    view = open_settings(bot)
    submit_settings(
        bot,
        view,
        **{
            ids.SETTINGS_HOLIDAYS: {"value": "2026-12-25\n2027-01-01"},
            ids.SETTINGS_ADMINS: {"selected_users": [MANAGER]},
            ids.SETTINGS_REMINDER: {"value": "5"},
            ids.SETTINGS_CONCERN: {"value": "24.5"},
            ids.SETTINGS_FOLLOWUP: {"value": "10"},
        },
    )
    with Session(bot.rt.engine) as s:
        assert s.get(Workspace, TEAM).holidays == ["2026-12-25", "2027-01-01"]  # type: ignore[union-attr]
    with unit_of_work(bot.rt.engine) as session:
        assert has_grant(session=session, team_id=TEAM, slack_id=MANAGER, role=ADMIN_ROLE)
    now = bot.run(effective(bot.rt, TEAM))
    assert (now.debrief_reminder_days, now.concern_delay_hours, now.followup_days) == (5, 24.5, 10)
    # The new admin has the button now; the modal shows what was saved.
    view = open_settings(bot, MANAGER)
    blocks = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert blocks[ids.SETTINGS_HOLIDAYS]["element"]["initial_value"] == "2026-12-25\n2027-01-01"
    assert blocks[ids.SETTINGS_ADMINS]["element"]["initial_users"] == [MANAGER]
    assert blocks[ids.SETTINGS_REMINDER]["element"]["initial_value"] == "5"


def test_the_admins_home_is_published_again_with_the_new_values(bot: RunningBot) -> None:
    view = open_settings(bot)
    before = len(bot.standin.calls_to("views.publish"))
    submit_settings(bot, view, **{ids.SETTINGS_END_OF_DAY: {"selected_time": "18:15"}})
    calls = bot.standin.calls_to("views.publish")
    assert len(calls) == before + 1 and calls[-1].body["user_id"] == ADMIN
    assert "18:15" in json.dumps(calls[-1].body["view"])


# --- validation ----------------------------------------------------------------------------


def test_numbers_out_of_range_are_refused_saying_what_to_type(bot: RunningBot) -> None:
    view = open_settings(bot)
    answer = submit_settings(
        bot,
        view,
        **{
            ids.SETTINGS_STREAK: {"value": "1"},
            ids.SETTINGS_FOLLOWUP: {"value": "2.5"},
            ids.SETTINGS_CONCERN: {"value": "100000"},
            ids.SETTINGS_DAYS: days(),
            ids.SETTINGS_HOLIDAYS: {"value": "Christmas"},
        },
    )
    assert answer["response_action"] == "errors"
    errors = answer["errors"]
    en = bot.rt.catalog.shipped("en")
    assert errors[ids.SETTINGS_STREAK] == en["admin_settings.error_number"].format(
        min=2, max=50, example=3
    )
    assert "1 to 90" in errors[ids.SETTINGS_FOLLOWUP]
    assert "from 1 to 2,160" in errors[ids.SETTINGS_CONCERN]
    assert errors[ids.SETTINGS_DAYS] == en["admin_settings.error_days_none"]
    assert "Christmas" in errors[ids.SETTINGS_HOLIDAYS]
    assert stored(bot) == {}


def test_an_admin_cannot_remove_themselves_nor_the_configurations_admins(
    bot_with_env_admin: RunningBot,
) -> None:
    bot = bot_with_env_admin
    with unit_of_work(bot.rt.engine) as session:
        grant(
            session=session,
            team_id=TEAM,
            slack_id=MANAGER,
            role=ADMIN_ROLE,
            by=ADMIN,
            now=utc(2026, 1, 1),
        )
    bot.run(load_person(bot.rt, team_id=TEAM, user_id=REP2))
    view = open_settings(bot, MANAGER)
    # The configuration's admin (REP2, "sam") left out: refused, saying where they come from.
    answer = submit_settings(
        bot, view, user=MANAGER, **{ids.SETTINGS_ADMINS: {"selected_users": [MANAGER]}}
    )
    assert answer["response_action"] == "errors"
    assert "@sam" in answer["errors"][ids.SETTINGS_ADMINS]
    assert "ADMINS" in answer["errors"][ids.SETTINGS_ADMINS]
    answer = submit_settings(
        bot, view, user=MANAGER, **{ids.SETTINGS_ADMINS: {"selected_users": [REP2]}}
    )
    assert answer["errors"][ids.SETTINGS_ADMINS] == bot.rt.catalog.text(
        "en", "admin_settings.error_self"
    )


def test_a_private_channel_the_bot_is_not_in_is_refused(bot: RunningBot) -> None:
    bot.standin.add_channel("G0SECRET", "secret-deals", is_private=True, is_member=False)
    view = open_settings(bot)
    answer = submit_settings(
        bot, view, **{ids.SETTINGS_DEALS: {"selected_conversations": [DEALS, "G0SECRET"]}}
    )
    assert "#secret-deals" in answer["errors"][ids.SETTINGS_DEALS]
    assert "/invite @Feedback Loop" in answer["errors"][ids.SETTINGS_DEALS]
    assert stored(bot) == {}


def test_a_public_channel_the_bot_is_not_in_is_joined(bot: RunningBot) -> None:
    bot.standin.add_channel(NEW_DEALS, "wins", is_member=False)
    view = open_settings(bot)
    submit_settings(
        bot, view, **{ids.SETTINGS_DEALS: {"selected_conversations": [DEALS, NEW_DEALS]}}
    )
    assert [c.body.get("channel") for c in bot.standin.calls_to("conversations.join")] == [
        NEW_DEALS
    ]
    assert set(stored(bot)["deals_channels"]["channels"]) == {DEALS, NEW_DEALS}


# --- security ------------------------------------------------------------------------------


def test_a_forged_submission_by_a_rep_changes_nothing(bot: RunningBot) -> None:
    view = open_settings(bot)  # the admin's modal, replayed under a rep's id
    answer = submit_settings(
        bot,
        view,
        user=REP,
        **{
            ids.SETTINGS_END_OF_DAY: {"selected_time": "09:00"},
            ids.SETTINGS_ADMINS: {"selected_users": [REP]},
            ids.SETTINGS_DEALS: {"selected_conversations": [OTHER]},
        },
    )
    assert answer["response_action"] == "update"
    assert stored(bot) == {}
    with unit_of_work(bot.rt.engine) as session:
        assert not has_grant(session=session, team_id=TEAM, slack_id=REP, role=ADMIN_ROLE)
    assert bot.run(effective(bot.rt, TEAM)).end_of_day == time(17, 30)


def test_a_rep_clicking_a_forged_settings_button_gets_no_settings(bot: RunningBot) -> None:
    home = open_home(bot, ADMIN)
    before = len(bot.standin.calls_to("views.open", ok=True))
    bot.send(bot.slack.block_action(ids.SETTINGS_OPEN, user=REP, view=home))
    opened = bot.standin.calls_to("views.open", ok=True)[before:]
    assert all(c.body["view"].get("submit") is None for c in opened)
    assert not any(b.get("type") == "input" for c in opened for b in c.body["view"]["blocks"])


# --- languages -----------------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "lang"), [("en-US", "en"), ("es-ES", "es"), ("fr-FR", "fr")])
def test_the_modal_speaks_the_admins_language(bot: RunningBot, locale: str, lang: str) -> None:
    bot.standin.add_user("U0ADMIN2", name="ana", real_name="Ana", locale=locale, is_admin=True)
    bot.standin.set_dnd("U0ADMIN2", dnd_enabled=False)
    view = open_settings(bot, "U0ADMIN2")
    texts = bot.rt.catalog.shipped(lang)
    assert view["title"]["text"] == texts["admin_settings.modal_title"]
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert texts["admin_settings.label_end_of_day"] in labels
    options = next(b for b in view["blocks"] if b.get("block_id") == ids.SETTINGS_DAYS)
    assert options["element"]["options"][0]["text"]["text"] == texts["admin_settings.option_mon"]
    home = json.dumps(open_home(bot, "U0ADMIN2"), ensure_ascii=False)
    assert texts["admin_settings.home_header"] in home
    answer = submit_settings(bot, view, user="U0ADMIN2", **{ids.SETTINGS_STREAK: {"value": "99"}})
    expected = bot.rt.catalog.text(lang, "admin_settings.error_number", min=2, max=50, example=3)
    assert answer["errors"][ids.SETTINGS_STREAK] == expected


def test_a_change_is_the_workspaces_own(bot: RunningBot) -> None:
    view = open_settings(bot)
    submit_settings(bot, view, **{ids.SETTINGS_STREAK: {"value": "5"}})
    assert bot.run(effective(bot.rt, TEAM)).loss_streak == 5
    assert bot.run(effective(bot.rt, "T0OTHER")).loss_streak == 3


def test_deals_channels_named_in_the_configuration_show_as_channels(
    standin: SlackStandIn, clock: FakeClock, sqlite_url: str, bot_server: BotServer
) -> None:
    bot, stop = start_bot(
        standin,
        clock,
        sqlite_url,
        server=bot_server,
        extra_env={"DEALS_CHANNELS": "#deals,#gone"},
    )
    try:
        view = open_settings(bot)
        deals = next(b for b in view["blocks"] if b.get("block_id") == ids.SETTINGS_DEALS)
        assert deals["element"]["initial_conversations"] == [DEALS]
        assert "#gone" in deals["hint"]["text"]
        # Saved untouched: nothing stored, the configuration still decides.
        submit_settings(bot, view)
        assert stored(bot) == {}
    finally:
        stop()
