"""The manager's call as its own flow, followed the way people live it: over days on the
clock, from App Home, asked twice, handed to a trusted colleague instead (seed 001: "have
the manager, or a trusted colleague, make the call"), in English, Spanish and French.

Once the rep asks, the caller owns the call: the rep's "isn't logged yet" reminders stop,
nobody is told to "offer to make the call yourself", the caller gets one reminder, and
his answer (what they told him, is the door open, the next step) reaches the rep beside
the rep's own guess in one DM."""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.devkit.standin import SlackStandIn
from tests.conftest import MANAGER, REP, REP2, RunningBot
from tests.scenarios.test_debrief_languages import english_leftovers
from tests.support.debrief_steps import (
    CALL_ANSWERS,
    action_ids,
    assert_all_block_kit_valid,
    click,
    close_deal,
    deal_ids,
    dm_messages,
    ephemeral_replies,
    find_message,
    last_modal,
    log_the_call,
    nudges_of,
    pick_caller,
    runs,
    set_manager,
    stale_click,
    submit,
    submit_call,
    texts,
)

COLLEAGUE = "U0COL1"
GUESS = "Our price was too high"


def cat(bot: RunningBot, key: str, lang: str = "en", **values: object) -> str:
    return bot.rt.catalog.text(lang, key, **values)


def guess_then_ask(bot: RunningBot, rep: str = REP, account: str = "Globex") -> None:
    close_deal(bot, "lost", account, rep)
    click(bot, rep, "loss_mode_helped")
    click(bot, rep, "guess_open")
    submit(bot, rep, last_modal(bot), {"guess": GUESS})
    click(bot, rep, "manager_call_request")


def texts_of(bot: RunningBot, user: str) -> list[str]:
    return [str(m.get("text")) for m in dm_messages(bot, user)]


def day_by_day(bot: RunningBot, clock: FakeClock, days: int) -> None:
    for _ in range(days):
        clock.advance(timedelta(days=1))
        bot.tick()


def open_home(bot: RunningBot, user: str) -> dict[str, Any]:
    event = {"type": "app_home_opened", "user": user, "tab": "home", "channel": "D0X"}
    bot.send(bot.slack.event_request(bot.slack.envelope(event)))
    [*_, call] = [c for c in bot.standin.calls_to("views.publish") if c.body["user_id"] == user]
    return dict(call.body["view"])


def view_actions(view: dict[str, Any]) -> list[str]:
    return action_ids(view)


def add_colleague(standin: SlackStandIn, locale: str = "en-US") -> None:
    standin.add_user(COLLEAGUE, name="carla", real_name="Carla Closer", locale=locale)
    standin.set_dnd(COLLEAGUE, dnd_enabled=False)


# --- over days on the clock ----------------------------------------------------------------


def test_once_asked_the_manager_owns_the_call_for_two_weeks(
    bot: RunningBot, clock: FakeClock
) -> None:
    set_manager(bot, REP, MANAGER)
    guess_then_ask(bot)
    day_by_day(bot, clock, 14)

    days = bot.rt.settings.debrief_reminder_days
    rep_nag = cat(bot, "reminder.debrief_fallback", account="Globex")
    assert rep_nag not in texts_of(bot, REP)  # not on day 3, not ever
    [reminder] = [t for t in texts_of(bot, MANAGER) if t.startswith("The feedback call")]
    assert reminder == cat(bot, "reminder.manager_call_fallback", account="Globex")
    heads_up = cat(bot, "reminder.debrief_manager", rep=f"<@{REP}>", account="Globex", days=days)
    everything = json.dumps(dm_messages(bot, MANAGER), ensure_ascii=False)
    assert heads_up[:40] not in everything  # never "offer to make the call yourself"
    assert "offer to make the call yourself" not in everything
    assert [n.state for n in nudges_of(bot, "debrief_reminder")] == ["cancelled"]
    assert [n.state for n in nudges_of(bot, "manager_call_reminder")] == ["sent"]
    # An amount nobody entered is left out, not "Not set".
    dm = dm_messages(bot, MANAGER)[0]
    assert cat(bot, "common.not_set") not in texts(dm)
    assert "*Deal:* Globex · closed November 23, 2026" in texts(dm)

    log_the_call(bot, MANAGER)
    results = [m for m in dm_messages(bot, REP) if f"<@{MANAGER}> called" in str(m["text"])]
    assert len(results) == 1
    body = texts(results[0])
    side_by_side = cat(
        bot, "call.result_guess", guess=GUESS, heard=CALL_ANSWERS["heard"], caller=f"<@{MANAGER}>"
    )
    assert json.dumps(side_by_side, ensure_ascii=False)[1:-1] in body
    door = cat(bot, "call.result_door", door=cat(bot, "manager.option_door_open"))
    assert json.dumps(door, ensure_ascii=False)[1:-1] in body
    assert CALL_ANSWERS["next"] in body
    # Nothing more for anyone after the call is logged.
    before = (len(dm_messages(bot, REP)), len(dm_messages(bot, MANAGER)))
    day_by_day(bot, clock, 7)
    assert rep_nag not in texts_of(bot, REP)
    assert len(dm_messages(bot, MANAGER)) == before[1]
    assert_all_block_kit_valid(bot)


def test_a_reminder_sent_before_the_ask_brings_the_manager_no_heads_up(
    bot: RunningBot, clock: FakeClock
) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    days = bot.rt.settings.debrief_reminder_days
    clock.advance(timedelta(days=days, minutes=1))
    bot.tick()
    assert cat(bot, "reminder.debrief_fallback", account="Globex") in texts_of(bot, REP)
    click(bot, REP, "manager_call_request")  # on day 3, after the rep's reminder
    day_by_day(bot, clock, 10)
    assert texts_of(bot, MANAGER) == [
        cat(bot, "manager.fallback", rep=f"<@{REP}>", account="Globex"),
        cat(bot, "reminder.manager_call_fallback", account="Globex"),
    ]
    [note] = nudges_of(bot, "debrief_manager_note")
    assert note.state == "cancelled"


def test_a_call_handed_back_makes_the_debrief_the_reps_again(
    bot: RunningBot, clock: FakeClock
) -> None:
    set_manager(bot, REP, MANAGER)
    guess_then_ask(bot)
    click(bot, MANAGER, "manager_decline")
    day_by_day(bot, clock, 4)
    nag = cat(bot, "reminder.debrief_fallback", account="Globex")
    assert texts_of(bot, REP).count(nag) == 1
    # And asking again after a hand-back asks afresh.
    click(bot, REP, "manager_call_request")
    assert ephemeral_replies(bot)[-1] == cat(
        bot, "manager.asked", manager=f"<@{MANAGER}>", account="Globex"
    )
    assert len(nudges_of(bot, "manager_call_dm")) == 2


def test_a_known_amount_is_in_the_managers_dm(bot: RunningBot) -> None:
    from decimal import Decimal

    from sqlmodel import Session, select

    from storage.models import Deal

    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Initech", REP)
    with Session(bot.rt.engine) as s:  # as a CRM post would have given it
        deal = s.exec(select(Deal)).one()
        deal.amount, deal.currency = Decimal("48000"), "USD"
        s.add(deal)
        s.commit()
    click(bot, REP, "manager_call_request")
    [dm] = dm_messages(bot, MANAGER)
    assert "*Deal:* Initech · $48,000 · closed November 23, 2026" in texts(dm)


# --- App Home ------------------------------------------------------------------------------


def test_the_managers_home_lists_the_call_to_make_with_its_buttons(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    guess_then_ask(bot)
    home = open_home(bot, MANAGER)
    shown = texts(home)
    assert cat(bot, "call.home_header") in shown and "Globex" in shown
    assert cat(bot, "home.loops_empty") not in shown
    assert view_actions(home) == ["manager_log_open", "manager_decline"]
    rep_home = texts(open_home(bot, REP))
    with_caller = cat(
        bot,
        "call.home_with_caller",
        account="Globex",
        outcome=cat(bot, "deal.outcome_lost"),
        caller=f"<@{MANAGER}>",
    )
    assert json.dumps(with_caller, ensure_ascii=False)[1:-1] in rep_home

    # "Log the call" in App Home opens his form, as in the DM.
    bot.send(bot.slack.block_action("manager_log_open", user=MANAGER, view=home))
    view = last_modal(bot)
    assert view["callback_id"] == "call_log"
    submit_call(bot, MANAGER, view, CALL_ANSWERS)
    click(bot, MANAGER, "log_confirm")
    after = texts(open_home(bot, MANAGER))
    assert cat(bot, "call.home_header") not in after
    assert cat(bot, "home.loops_empty") in after


def test_someone_else_clicking_log_in_a_forged_home_is_refused(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    guess_then_ask(bot)
    home = open_home(bot, MANAGER)
    opened = len(bot.standin.calls_to("views.open"))
    for intruder in (REP, REP2):
        bot.send(bot.slack.block_action("manager_log_open", user=intruder, view=home))
        bot.send(bot.slack.block_action("manager_decline", user=intruder, view=home))
    assert len(bot.standin.calls_to("views.open")) == opened
    [call] = runs(bot, "manager_call")
    assert call.state == "open"


# --- the second ask ------------------------------------------------------------------------


def test_a_second_ask_says_who_has_the_call_and_asks_nobody_twice(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "guess_open")
    submit(bot, REP, last_modal(bot), {"guess": GUESS})
    # The DM as it was before the ask: its buttons are replaced in place once asked, but
    # an older copy (a notification, another device) can still be clicked.
    old = copy.deepcopy(find_message(bot, REP, "manager_call_request"))
    click(bot, REP, "manager_call_request")
    stale_click(bot, REP, "manager_call_request", old)
    stale_click(bot, REP, "call_pick_open", old)  # a colleague instead, once it's with him
    already = cat(bot, "call.already_open", caller=f"<@{MANAGER}>", account="Globex")
    assert ephemeral_replies(bot)[-2:] == [already, already]
    assert [c.body["view"]["callback_id"] for c in bot.standin.calls_to("views.open")] == [
        "guess_log"
    ]
    log_the_call(bot, MANAGER)
    stale_click(bot, REP, "manager_call_request", old)
    assert ephemeral_replies(bot)[-1] == cat(
        bot, "call.already_logged", caller=f"<@{MANAGER}>", account="Globex"
    )
    assert len(runs(bot, "manager_call")) == 1
    assert len(nudges_of(bot, "manager_call_dm")) == 1


def test_the_manager_and_colleague_buttons_clicked_together_open_one_call(
    bot: RunningBot, standin: SlackStandIn
) -> None:
    add_colleague(standin)
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "call_pick_open")
    view = last_modal(bot)
    ask = bot.slack.block_action(
        "manager_call_request",
        user=REP,
        channel=standin.dm_channel(REP),
        message=dm_messages(bot, REP)[0],
    )
    pick = bot.slack.view_submission(
        "call_pick",
        {"caller": {"v": {"type": "users_select", "selected_user": COLLEAGUE}}},
        user=REP,
        private_metadata=view["private_metadata"],
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda r: bot.post(r).status, [ask, pick, ask, pick]))
    bot.idle()
    assert statuses == [200] * 4
    [call] = runs(bot, "manager_call")
    assert len(nudges_of(bot, "manager_call_dm")) == 1
    asked = dm_messages(bot, call.user_slack_id)
    assert len(asked) == 1
    other = COLLEAGUE if call.user_slack_id == MANAGER else MANAGER
    assert dm_messages(bot, other) == []


# --- a trusted colleague instead ---------------------------------------------------------


def test_a_trusted_colleague_makes_the_call_and_only_they_may_log_it(
    bot: RunningBot, standin: SlackStandIn, clock: FakeClock
) -> None:
    add_colleague(standin)
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "guess_open")
    submit(bot, REP, last_modal(bot), {"guess": GUESS})
    pick_caller(bot, REP, COLLEAGUE)
    assert texts_of(bot, REP)[-1] == cat(
        bot, "manager.asked", manager=f"<@{COLLEAGUE}>", account="Globex"
    )
    [dm] = dm_messages(bot, COLLEAGUE)
    intro = cat(bot, "call.dm_intro_colleague", account="Globex", rep=f"<@{REP}>")
    assert json.dumps(intro, ensure_ascii=False)[1:-1] in texts(dm)
    assert GUESS in texts(dm)
    assert dm_messages(bot, MANAGER) == []  # the manager is not asked as well

    # A third person — the rep's own manager — forging the colleague's buttons and form.
    deal = runs(bot, "manager_call")[0].deal_id
    channel = standin.dm_channel(COLLEAGUE)
    for action in ("manager_log_open", "manager_decline"):
        forged = bot.slack.block_action(action, user=MANAGER, channel=channel, message=dm)
        bot.send(forged)
        assert ephemeral_replies(bot)[-1] == cat(bot, "privacy.not_yours")
    meta = json.dumps({"deal": deal, "as": "manager"})
    values = {"heard": {"v": {"type": "plain_text_input", "value": "forged"}}}
    for intruder in (MANAGER, REP):
        refused = bot.send(
            bot.slack.view_submission("call_log", values, user=intruder, private_metadata=meta)
        ).json()
        assert refused["response_action"] == "update"
    [call] = runs(bot, "manager_call")
    assert (call.user_slack_id, call.state) == (COLLEAGUE, "open")
    assert "draft" not in call.data

    # The colleague's home lists it, one reminder comes, then they log it.
    assert "Globex" in texts(open_home(bot, COLLEAGUE))
    day_by_day(bot, clock, 7)
    assert texts_of(bot, COLLEAGUE)[-1] == cat(
        bot, "reminder.manager_call_fallback", account="Globex"
    )
    # The rep's manager was not asked, so no heads-up about an open debrief either.
    assert dm_messages(bot, MANAGER) == []
    assert cat(bot, "reminder.debrief_fallback", account="Globex") not in texts_of(bot, REP)
    log_the_call(bot, COLLEAGUE)
    told = dm_messages(bot, REP)[-1]
    assert told["text"] == cat(
        bot, "call.result_fallback", caller=f"<@{COLLEAGUE}>", account="Globex"
    )
    assert GUESS in texts(told) and CALL_ANSWERS["heard"] in texts(told)
    assert_all_block_kit_valid(bot)


def test_a_rep_without_a_manager_can_still_pick_a_colleague(
    bot: RunningBot, standin: SlackStandIn
) -> None:
    add_colleague(standin)
    close_deal(bot, "lost", "Globex", REP)
    pick_caller(bot, REP, COLLEAGUE)
    [call] = runs(bot, "manager_call")
    assert call.user_slack_id == COLLEAGUE and call.data["colleague"] is True


def test_picking_the_manager_in_the_colleague_form_asks_him_as_the_manager(
    bot: RunningBot,
) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    pick_caller(bot, REP, MANAGER)
    [call] = runs(bot, "manager_call")
    assert "colleague" not in call.data
    [dm] = dm_messages(bot, MANAGER)
    intro = cat(bot, "manager.dm_intro", account="Globex", rep=f"<@{REP}>")
    assert json.dumps(intro, ensure_ascii=False)[1:-1] in texts(dm)


@pytest.mark.parametrize(
    ("picked", "key"),
    [
        ("U0NOBODY", "call.pick.not_person"),  # a forged id: no such person in Slack
        ("U0GONE", "call.pick.not_person"),  # deactivated
        ("U0BOT", "call.pick.not_person"),  # an app
        (REP, "call.pick.not_yourself"),
    ],
)
def test_picking_someone_who_cannot_call_keeps_the_form_open_and_says_why(
    bot: RunningBot, standin: SlackStandIn, picked: str, key: str
) -> None:
    standin.add_user("U0GONE", name="gone", deleted=True)
    standin.add_user("U0BOT", name="robot", is_bot=True)
    close_deal(bot, "lost", "Globex", REP)
    answer = pick_caller(bot, REP, picked).json()
    assert answer == {"response_action": "errors", "errors": {"caller": cat(bot, key)}}
    assert runs(bot, "manager_call") == []


def test_only_the_rep_may_pick_who_calls(bot: RunningBot, standin: SlackStandIn) -> None:
    add_colleague(standin)
    close_deal(bot, "lost", "Globex", REP)
    [deal] = deal_ids(bot)
    for intruder in (REP2, MANAGER):
        bot.send(bot.slack.block_action("call_pick_open", user=intruder, value=str(deal)))
        refused = bot.send(
            bot.slack.view_submission(
                "call_pick",
                {"caller": {"v": {"type": "users_select", "selected_user": intruder}}},
                user=intruder,
                private_metadata=json.dumps({"deal": deal}),
            )
        ).json()
        assert refused["response_action"] == "update"
    assert runs(bot, "manager_call") == []
    assert bot.standin.calls_to("views.open") == []


# --- in the rep's and the caller's own language -------------------------------------------

LOCALES = {"en": "en-US", "es": "es-ES", "fr": "fr-FR"}


def everything_to(bot: RunningBot, *users: str) -> list[Any]:
    channels = {bot.standin.dm_channel(u) for u in users} | set(users)
    out: list[Any] = []
    for method in ("chat.postMessage", "chat.update"):
        for c in bot.standin.calls_to(method, ok=True):
            if c.body.get("channel") in channels:
                out.append({"text": c.body.get("text"), "blocks": c.body.get("blocks")})
    out += [c.body for c in bot.standin.calls_to("response_url")]
    out += [c.body["view"] for c in bot.standin.calls_to("views.open", ok=True)]
    out += [c.body["view"] for c in bot.standin.calls_to("views.publish", ok=True)]
    return out


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_the_whole_call_reads_in_each_persons_language(
    bot: RunningBot, standin: SlackStandIn, clock: FakeClock, lang: str
) -> None:
    rep, caller = "U0LREP", COLLEAGUE
    standin.add_user(rep, name="lucia", tz="Europe/Madrid", locale=LOCALES[lang])
    standin.set_dnd(rep, dnd_enabled=False)
    add_colleague(standin, LOCALES[lang])
    set_manager(bot, rep, MANAGER)
    close_deal(bot, "lost", "Globex", rep)
    click(bot, rep, "loss_mode_helped")
    click(bot, rep, "guess_open")
    submit(bot, rep, last_modal(bot), {"guess": GUESS})
    old = copy.deepcopy(find_message(bot, rep, "call_pick_open"))
    pick_caller(bot, rep, caller)
    stale_click(bot, rep, "call_pick_open", old)  # asked already: said so, in their language
    open_home(bot, caller)
    open_home(bot, rep)
    day_by_day(bot, clock, 4)
    click(bot, caller, "manager_log_open")
    errors = submit_call(bot, caller, last_modal(bot), {**CALL_ANSWERS, "door": ""}).json()
    assert set(errors["errors"]) == {"door"}
    log_the_call(bot, caller)

    payloads = [*everything_to(bot, rep, caller), errors]
    seen = json.dumps(payloads, ensure_ascii=False)
    for key, values in [
        ("call.already_open", {"caller": f"<@{caller}>", "account": "Globex"}),
        ("call.home_header", {}),
        ("call.label_next", {}),
        ("manager.label_door", {}),
        ("call.pick.label_who", {}),
        ("call.rep_result", {"caller": f"<@{caller}>", "account": "Globex"}),
        ("call.result_next", {"next": CALL_ANSWERS["next"]}),
        ("reminder.manager_call_fallback", {"account": "Globex"}),
    ]:
        assert json.dumps(cat(bot, key, lang, **values), ensure_ascii=False)[1:-1] in seen, key
    if lang != "en":
        assert english_leftovers(bot, lang, payloads) == []
    assert_all_block_kit_valid(bot)


def test_once_logged_the_callers_first_dm_no_longer_offers_to_log_or_decline(
    bot: RunningBot, clock: FakeClock
) -> None:
    set_manager(bot, REP, MANAGER)
    guess_then_ask(bot)
    day_by_day(bot, clock, 4)  # his one reminder goes out too
    assert sum("manager_decline" in action_ids(m) for m in dm_messages(bot, MANAGER)) >= 1
    log_the_call(bot, MANAGER)
    for message in dm_messages(bot, MANAGER):
        assert "manager_decline" not in action_ids(message)
        assert "manager_log_open" not in action_ids(message)
    assert_all_block_kit_valid(bot)
