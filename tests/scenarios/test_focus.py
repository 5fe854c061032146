"""The practice focus ("I'm working on…", seed 000; the end-of-day run-through against
it, seed 004 step 10): set from App Home, from the evening DM and its modal, or from a
logged takeaway in one click; the evening question names it and records whether it came
up; the weekly digest shows the days it did. In English, Spanish and French."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.devkit.requests import plain_text_value, radio_buttons_value
from bot.devkit.standin import check_message_blocks, check_view
from storage.models import FocusCheck, PracticeFocus, Reflection
from tests.conftest import REP, REP2, RunningBot
from tests.scenarios.test_reflection import at, know, reflection_dms, utc
from tests.scenarios.test_weekly_digest import digest_text, digests
from tests.support.debrief_steps import (
    LOSS_ANSWERS,
    assert_all_block_kit_valid,
    click,
    close_deal,
    ephemeral_replies,
    last_modal,
    submit,
    texts,
)

REP_FR = "U0REPFR"
PARIS = "Europe/Paris"
# (language, the rep who reads it, that rep's evening slot on Monday 23 November in UTC)
LANGS = [
    pytest.param("en", REP, utc(2026, 11, 23, 22, 30), id="en"),
    pytest.param("es", REP2, utc(2026, 11, 23, 16, 30), id="es"),
    pytest.param("fr", REP_FR, utc(2026, 11, 23, 16, 30), id="fr"),
]
FOCUS = {
    "en": "Asking for the go-live date in the first meeting",
    "es": "Preguntar la fecha de puesta en marcha en la primera reunión",
    "fr": "Demander la date de mise en service dès le premier rendez-vous",
}


@pytest.fixture(autouse=True)
def french_rep(bot: RunningBot) -> None:
    bot.standin.add_user(REP_FR, name="flore", tz=PARIS, locale="fr-FR")
    bot.standin.set_dnd(REP_FR, dnd_enabled=False)


def cat(bot: RunningBot, lang: str, key: str, **values: Any) -> str:
    return bot.rt.catalog.text(lang, key, **values)


def focuses(bot: RunningBot, user: str) -> list[PracticeFocus]:
    with Session(bot.rt.engine) as s:
        rows = s.exec(select(PracticeFocus).where(PracticeFocus.user_slack_id == user))
        return sorted(rows.all(), key=lambda f: f.id or 0)


def current(bot: RunningBot, user: str) -> str | None:
    open_ = [f.text for f in focuses(bot, user) if f.ended_at is None]
    return open_[-1] if open_ else None


def check_of(bot: RunningBot, user: str, day: str) -> tuple[str | None, bool | None]:
    """The evening's focus answer (focus, came up), (None, None) when it asked none; the
    day's reflection itself must exist either way."""
    with Session(bot.rt.engine) as s:
        s.exec(
            select(Reflection).where(Reflection.user_slack_id == user, Reflection.local_date == day)
        ).one()
        row = s.exec(
            select(FocusCheck).where(FocusCheck.user_slack_id == user, FocusCheck.local_date == day)
        ).first()
        return (row.focus, row.came_up) if row else (None, None)


def home_opened(bot: RunningBot, user: str) -> None:
    event = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user[1:],
        "tab": "home",
        "event_ts": "1700000000.000100",
    }
    assert bot.send(bot.slack.event_request(event)).status == 200


def home_view(bot: RunningBot, user: str) -> dict[str, Any]:
    calls = [c for c in bot.standin.calls_to("views.publish") if c.body.get("user_id") == user]
    view = dict(calls[-1].body["view"])
    assert check_view(view) == []
    return view


def submit_focus(bot: RunningBot, user: str, view: dict[str, Any], text: str) -> None:
    assert view["callback_id"] == "practice_focus"
    assert check_view(view) == []
    request = bot.slack.view_submission(
        "practice_focus",
        {"focus": {"v": plain_text_value(text)}},
        user=user,
        private_metadata=view["private_metadata"],
        blocks=view["blocks"],
    )
    assert bot.send(request).status == 200


def set_from_home(bot: RunningBot, user: str, text: str) -> None:
    home_opened(bot, user)
    view = home_view(bot, user)
    before = len(bot.standin.calls_to("views.open"))
    bot.send(bot.slack.block_action("focus_open", user=user, view=view))
    assert len(bot.standin.calls_to("views.open")) == before + 1
    submit_focus(bot, user, last_modal(bot), text)


def evening_modal(bot: RunningBot, user: str) -> dict[str, Any]:
    """Click "Reflect now" on the latest evening DM; the modal it opened."""
    dm = reflection_dms(bot, user)[-1]
    message = {"type": "message", "ts": dm["ts"], "blocks": dm["blocks"], "text": dm["text"]}
    channel = bot.standin.dm_channel(user)
    bot.send(bot.slack.block_action("reflect_open", user=user, channel=channel, message=message))
    view = last_modal(bot)
    assert view["callback_id"] == "reflection" and check_view(view) == []
    return view


def reflect(
    bot: RunningBot,
    user: str,
    went: str,
    *,
    came_up: str | None = None,
    next_focus: str | None = None,
) -> dict[str, Any]:
    view = evening_modal(bot, user)
    values: dict[str, Any] = {"went": {"v": plain_text_value(went)}}
    if came_up is not None:
        values["came_up"] = {"v": radio_buttons_value(came_up)}
    if next_focus is not None:
        values["next_focus"] = {"v": plain_text_value(next_focus)}
    request = bot.slack.view_submission(
        "reflection",
        values,
        user=user,
        private_metadata=view["private_metadata"],
        blocks=view["blocks"],
    )
    assert bot.send(request).status == 200
    return view


def first_section(message: dict[str, Any]) -> str:
    return str(message["blocks"][0]["text"]["text"])


# --- App Home ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "user", "evening"), LANGS)
def test_set_focus_from_app_home_and_the_evening_question_names_it(
    bot: RunningBot, lang: str, user: str, evening: datetime
) -> None:
    know(bot, user)
    home_opened(bot, user)
    view = home_view(bot, user)
    shown = json.dumps(view["blocks"], ensure_ascii=False)
    assert cat(bot, lang, "focus.home_header") in shown
    assert json.dumps(cat(bot, lang, "focus.home_empty"), ensure_ascii=False)[1:40] in shown
    [button] = [b["accessory"] for b in view["blocks"] if b.get("accessory", {}).get("action_id")]
    assert (button["action_id"], button["value"]) == ("focus_open", "home")
    assert button["text"]["text"] == cat(bot, lang, "focus.button_set")

    set_from_home(bot, user, f"  {FOCUS[lang]}\n ")
    assert current(bot, user) == FOCUS[lang]
    [row] = focuses(bot, user)
    assert row.source == "home"
    # App Home is drawn again with the focus and "Change".
    shown = json.dumps(home_view(bot, user)["blocks"], ensure_ascii=False)
    assert FOCUS[lang] in shown and cat(bot, lang, "focus.button_change") in shown

    at(bot, evening)
    [dm] = reflection_dms(bot, user)
    assert check_message_blocks(dm["blocks"]) == []
    assert first_section(dm) == cat(bot, lang, "focus.dm", focus=FOCUS[lang])
    assert "focus_open" not in json.dumps(dm["blocks"])  # no invitation: there is a focus
    view = evening_modal(bot, user)
    assert cat(bot, lang, "focus.label_came_up") in json.dumps(view["blocks"], ensure_ascii=False)
    inputs = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert inputs == ["came_up", "went", "short", "better", "next_focus"]
    assert_all_block_kit_valid(bot)


def test_clearing_the_focus_in_app_home_brings_the_invitation_back(bot: RunningBot) -> None:
    know(bot, REP)
    set_from_home(bot, REP, FOCUS["en"])
    set_from_home(bot, REP, "   ")
    assert current(bot, REP) is None
    assert [f.ended_at is not None for f in focuses(bot, REP)] == [True]
    at(bot, utc(2026, 11, 23, 22, 30))
    [dm] = reflection_dms(bot, REP)
    assert first_section(dm) == cat(bot, "en", "reflect.dm")
    assert cat(bot, "en", "focus.invite") in texts(dm)


# --- the evening reflection ----------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "user", "evening"), LANGS)
def test_without_a_focus_the_evening_invites_one_and_sets_it_in_place(
    bot: RunningBot, lang: str, user: str, evening: datetime
) -> None:
    know(bot, user)
    at(bot, evening)
    [dm] = reflection_dms(bot, user)
    assert json.dumps(cat(bot, lang, "focus.invite"), ensure_ascii=False)[1:40] in texts(dm)
    message = {"type": "message", "ts": dm["ts"], "blocks": dm["blocks"], "text": dm["text"]}
    channel = bot.standin.dm_channel(user)
    bot.send(bot.slack.block_action("focus_open", user=user, channel=channel, message=message))
    submit_focus(bot, user, last_modal(bot), FOCUS[lang])
    assert [f.source for f in focuses(bot, user)] == ["reflection"]
    # The same evening DM now asks about the focus, and still opens tonight's reflection.
    [updated] = [m for m in bot.standin.messages(channel) if m.get("ts") == dm["ts"]]
    assert first_section(updated) == cat(bot, lang, "focus.dm", focus=FOCUS[lang])
    values = [
        el.get("value") for b in updated["blocks"] if b["type"] == "actions" for el in b["elements"]
    ]
    assert "2026-11-23" in values
    assert_all_block_kit_valid(bot)


@pytest.mark.parametrize(("lang", "user", "evening"), LANGS)
def test_the_reflection_records_whether_it_came_up_and_can_set_the_next_focus(
    bot: RunningBot, lang: str, user: str, evening: datetime
) -> None:
    know(bot, user)
    at(bot, evening)
    # No focus yet: the modal's last field sets one.
    reflect(bot, user, "Quiet day", next_focus=FOCUS[lang])
    assert current(bot, user) == FOCUS[lang]
    assert check_of(bot, user, "2026-11-23") == (None, None)
    updated = bot.standin.messages(bot.standin.dm_channel(user))[-1]
    assert cat(bot, lang, "focus.saved", focus=FOCUS[lang]) in texts(updated)

    at(bot, evening.replace(day=24))
    [_, tuesday_dm] = reflection_dms(bot, user)
    assert first_section(tuesday_dm) == cat(bot, lang, "focus.dm", focus=FOCUS[lang])
    reflect(bot, user, "Asked Initech", came_up="yes", next_focus=FOCUS[lang])
    assert check_of(bot, user, "2026-11-24") == (FOCUS[lang], True)
    assert len(focuses(bot, user)) == 1  # kept, not set again
    assert_all_block_kit_valid(bot)


def test_a_reflection_cannot_record_against_another_reps_focus(bot: RunningBot) -> None:
    know(bot, REP, REP2)
    set_from_home(bot, REP2, FOCUS["es"])
    [sams] = focuses(bot, REP2)
    at(bot, utc(2026, 11, 23, 22, 30))
    view = evening_modal(bot, REP)
    meta = json.loads(view["private_metadata"])
    meta["focus"] = sams.id  # a forged id in the metadata
    request = bot.slack.view_submission(
        "reflection",
        {"went": {"v": plain_text_value("ok")}, "came_up": {"v": radio_buttons_value("yes")}},
        user=REP,
        private_metadata=json.dumps(meta),
        blocks=view["blocks"],
    )
    bot.send(request)
    assert check_of(bot, REP, "2026-11-23") == (None, None)


# --- a takeaway, in one click --------------------------------------------------------------------


def log_loss(bot: RunningBot, user: str, takeaways: str) -> None:
    close_deal(bot, "lost", "Globex", user)
    click(bot, user, "loss_mode_helped")
    click(bot, user, "loss_log_open")
    submit(bot, user, last_modal(bot), {**LOSS_ANSWERS, "takeaways": takeaways})
    click(bot, user, "log_confirm")


def takeaway_message(bot: RunningBot, user: str) -> dict[str, Any]:
    """The logged-debrief summary: its takeaway buttons sit beside each takeaway."""
    for message in reversed(bot.standin.messages(bot.standin.dm_channel(user))):
        if "focus_from_takeaway" in texts(message):
            return message
    raise AssertionError("no takeaway buttons")


def takeaway_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        b["accessory"]
        for b in message["blocks"]
        if b.get("accessory", {}).get("action_id") == "focus_from_takeaway"
    ]


def click_takeaway(bot: RunningBot, user: str, value: str, *, owner: str | None = None) -> None:
    message = takeaway_message(bot, owner or user)
    request = bot.slack.block_action(
        "focus_from_takeaway",
        user=user,
        channel=bot.standin.dm_channel(owner or user),
        message=message,
        value=value,
    )
    assert bot.send(request).status == 200


TAKEAWAYS = {
    "en": "- Ask for the go-live date in the first meeting\n- Bring the CFO in earlier",
    "es": "1. Preguntar la fecha de puesta en marcha\n2. Hablar antes con el director financiero",
    "fr": "• Demander la date de mise en service\n• Impliquer le DAF plus tôt",
}


@pytest.mark.parametrize(("lang", "user", "evening"), LANGS)
def test_a_takeaway_becomes_the_focus_in_one_click(
    bot: RunningBot, lang: str, user: str, evening: datetime
) -> None:
    log_loss(bot, user, TAKEAWAYS[lang])
    saved = takeaway_message(bot, user)
    assert cat(bot, lang, "focus.takeaways_intro") in texts(saved)
    buttons = takeaway_buttons(saved)
    assert len(buttons) == 2
    assert buttons[0]["text"]["text"] == cat(bot, lang, "focus.button_from_takeaway")
    second = TAKEAWAYS[lang].splitlines()[1].split(" ", 1)[1]
    click_takeaway(bot, user, buttons[1]["value"])
    [row] = focuses(bot, user)
    deal_id = int(buttons[1]["value"].split(":")[0])
    assert (row.text, row.source, row.deal_id) == (second, "takeaway", deal_id)
    assert ephemeral_replies(bot)[-1] == cat(bot, lang, "focus.saved", focus=second)
    # The second click changes nothing.
    click_takeaway(bot, user, buttons[1]["value"])
    assert len(focuses(bot, user)) == 1

    at(bot, evening)
    [dm] = reflection_dms(bot, user)
    assert first_section(dm) == cat(bot, lang, "focus.dm", focus=second)
    assert_all_block_kit_valid(bot)


def test_another_rep_cannot_take_someone_elses_takeaway(bot: RunningBot) -> None:
    log_loss(bot, REP, TAKEAWAYS["en"])
    value = takeaway_buttons(takeaway_message(bot, REP))[0]["value"]
    click_takeaway(bot, REP2, value, owner=REP)
    assert focuses(bot, REP2) == [] and focuses(bot, REP) == []
    assert ephemeral_replies(bot)[-1] == cat(bot, "es", "privacy.not_yours")


def test_a_takeaway_button_past_the_list_says_what_to_do_instead(bot: RunningBot) -> None:
    log_loss(bot, REP, TAKEAWAYS["en"])
    deal = takeaway_buttons(takeaway_message(bot, REP))[0]["value"].split(":")[0]
    click_takeaway(bot, REP, f"{deal}:7")
    assert focuses(bot, REP) == []
    assert ephemeral_replies(bot)[-1] == cat(bot, "en", "focus.takeaway_gone")


# --- the weekly digest ---------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "user", "evening"), LANGS)
def test_the_digest_shows_the_days_the_focus_came_up_even_after_a_change(
    bot: RunningBot, lang: str, user: str, evening: datetime
) -> None:
    know(bot, user)
    set_from_home(bot, user, FOCUS[lang])
    other = {
        "en": "Letting the silence sit",
        "es": "Dejar que el silencio actúe",
        "fr": "Laisser le silence s'installer",
    }[lang]
    days = {23: "yes", 24: "no", 25: "yes"}
    for day, came_up in days.items():
        at(bot, evening.replace(day=day))
        # Wednesday evening the rep moves on to the next thing, in the same form.
        reflect(bot, user, f"day {day}", came_up=came_up, next_focus=other if day == 25 else None)
    at(bot, evening.replace(day=26))
    reflect(bot, user, "day 26", came_up="yes")
    assert check_of(bot, user, "2026-11-25") == (FOCUS[lang], True)
    assert check_of(bot, user, "2026-11-26") == (other, True)
    # Friday's evening DM first, then the digest an hour later (due together, the noise
    # budget would gather them into one message).
    at(bot, evening.replace(day=27))
    at(bot, evening.replace(day=27, hour=evening.hour + 1))
    [digest] = digests(bot, user)
    assert check_message_blocks(digest["blocks"]) == []
    text = digest_text(digest)
    assert (
        cat(
            bot,
            lang,
            "focus.digest_came_up",
            focus=FOCUS[lang],
            # The week's days written the reader's way, short (bot/messages/formats.py).
            days={"en": "Nov 23 and Nov 25", "es": "23 nov y 25 nov", "fr": "23 nov. et 25 nov."}[
                lang
            ],
            count=2,
            asked=3,
        )
        in text
    )
    assert (
        cat(
            bot,
            lang,
            "focus.digest_came_up",
            focus=other,
            days={"en": "Nov 26", "es": "26 nov", "fr": "26 nov."}[lang],
            count=1,
            asked=1,
        )
        in text
    )
    assert cat(bot, lang, "focus.digest_entry_no", focus=FOCUS[lang]) in text


def test_a_week_without_a_focus_is_invited_to_pick_one(bot: RunningBot) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 22, 30))
    reflect(bot, REP, "fine")
    at(bot, utc(2026, 11, 27, 22, 30))
    at(bot, utc(2026, 11, 27, 23, 30))
    [digest] = digests(bot, REP)
    assert cat(bot, "en", "focus.digest_pick_one") in digest_text(digest)


def test_forget_me_deletes_the_focus_history(bot: RunningBot) -> None:
    know(bot, REP)
    set_from_home(bot, REP, FOCUS["en"])
    set_from_home(bot, REP, "Something else")
    at(bot, utc(2026, 11, 23, 22, 30))
    reflect(bot, REP, "fine", came_up="no")
    assert len(focuses(bot, REP)) == 2
    assert check_of(bot, REP, "2026-11-23") == ("Something else", False)
    bot.send(bot.slack.slash_command("forget-me", user=REP))
    bot.send(bot.slack.block_action("forget_me_confirm", user=REP))
    assert focuses(bot, REP) == []
    with Session(bot.rt.engine) as s:
        assert s.exec(select(FocusCheck)).all() == []


def test_a_focus_is_private_to_its_rep(bot: RunningBot) -> None:
    know(bot, REP, REP2)
    set_from_home(bot, REP, FOCUS["en"])
    home_opened(bot, REP2)
    sams_home = json.dumps(home_view(bot, REP2)["blocks"], ensure_ascii=False)
    assert FOCUS["en"] not in sams_home
    assert cat(bot, "es", "focus.home_header") in sams_home
    at(bot, utc(2026, 11, 23, 16, 30))
    [dm] = reflection_dms(bot, REP2)
    assert FOCUS["en"] not in texts(dm)


@pytest.mark.parametrize(("lang", "user", "evening"), LANGS[1:])
def test_every_focus_and_quotes_message_is_in_the_reps_language(
    bot: RunningBot, lang: str, user: str, evening: datetime
) -> None:
    from tests.scenarios.test_debrief_languages import english_leftovers, everything_sent_to

    know(bot, user)
    home_opened(bot, user)  # no focus yet: the invitation
    at(bot, evening)  # the evening DM inviting a focus
    set_from_home(bot, user, FOCUS[lang])
    reflect(bot, user, "bien", came_up="yes", next_focus=FOCUS[lang])
    log_loss(bot, user, TAKEAWAYS[lang])
    click_takeaway(bot, user, takeaway_buttons(takeaway_message(bot, user))[0]["value"])
    at(bot, evening.replace(day=27))
    at(bot, evening.replace(day=27, hour=evening.hour + 1))  # the digest
    acks = [
        bot.send(bot.slack.slash_command(text, user=user)).json()
        for text in ("quotes", "quotes zebra", "prep Hooli — salud", "help")
    ]
    close_deal(bot, "won", "Initech", user)
    click(bot, user, "win_log_open")  # the win log with its tag field
    publishes = [
        c.body["view"] for c in bot.standin.calls_to("views.publish") if c.body["user_id"] == user
    ]
    payloads = [*everything_sent_to(bot, user), *publishes, *acks]
    assert english_leftovers(bot, lang, payloads) == []
    seen = json.dumps(payloads, ensure_ascii=False)
    for key in ("focus.home_header", "focus.label_came_up", "quotes.none_yet", "quotes.label_tag"):
        assert cat(bot, lang, key) in seen, key
    assert_all_block_kit_valid(bot)


# --- Slack failing --------------------------------------------------------------------------


def test_when_the_evening_dm_cannot_be_redrawn_the_focus_is_kept_and_confirmed(
    bot: RunningBot,
) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 23, 22, 30))
    [dm] = reflection_dms(bot, REP)
    message = {"type": "message", "ts": dm["ts"], "blocks": dm["blocks"], "text": dm["text"]}
    channel = bot.standin.dm_channel(REP)
    bot.send(bot.slack.block_action("focus_open", user=REP, channel=channel, message=message))
    bot.standin.fail_next("chat.update", status=500)
    submit_focus(bot, REP, last_modal(bot), FOCUS["en"])
    assert len(bot.standin.calls_to("chat.update", ok=False)) == 1
    assert current(bot, REP) == FOCUS["en"]
    last = bot.standin.messages(channel)[-1]
    assert last["ts"] != dm["ts"]
    assert texts(last).count(FOCUS["en"]) == 1
    assert cat(bot, "en", "focus.saved", focus=FOCUS["en"]) in texts(last)


def test_a_home_that_fails_to_publish_loses_no_focus(bot: RunningBot) -> None:
    know(bot, REP)
    home_opened(bot, REP)
    view = home_view(bot, REP)
    bot.send(bot.slack.block_action("focus_open", user=REP, view=view))
    bot.standin.fail_next("views.publish", status=500)
    submit_focus(bot, REP, last_modal(bot), FOCUS["en"])
    assert len(bot.standin.calls_to("views.publish", ok=False)) == 1
    assert current(bot, REP) == FOCUS["en"]
    home_opened(bot, REP)
    assert FOCUS["en"] in json.dumps(home_view(bot, REP)["blocks"], ensure_ascii=False)


@pytest.mark.parametrize(("lang", "user", "evening"), LANGS)
def test_prep_names_the_focus_in_the_exchange(
    bot: RunningBot, lang: str, user: str, evening: datetime
) -> None:
    know(bot, user)
    before = bot.send(bot.slack.slash_command("prep Globex", user=user)).json()
    assert "focus.prep_line" not in json.dumps(before) and FOCUS[lang] not in json.dumps(before)
    set_from_home(bot, user, FOCUS[lang])
    body = bot.send(bot.slack.slash_command("prep Globex", user=user)).json()
    assert check_message_blocks(body["blocks"]) == []
    line = cat(bot, lang, "focus.prep_line", focus=FOCUS[lang])
    assert line in json.dumps(body["blocks"], ensure_ascii=False)
    # The other rep's prep does not show it.
    other = REP2 if user != REP2 else REP
    theirs = bot.send(bot.slack.slash_command("prep Globex", user=other)).json()
    assert FOCUS[lang] not in json.dumps(theirs, ensure_ascii=False)


def test_a_focus_set_after_the_last_evening_gets_no_invitation_in_the_digest(
    bot: RunningBot,
) -> None:
    know(bot, REP)
    at(bot, utc(2026, 11, 27, 22, 30))
    reflect(bot, REP, "fine")
    set_from_home(bot, REP, FOCUS["en"])
    at(bot, utc(2026, 11, 27, 23, 30))
    [digest] = digests(bot, REP)
    assert cat(bot, "en", "focus.digest_pick_one") not in digest_text(digest)
