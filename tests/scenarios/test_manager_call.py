"""Manager makes the call: from the loss DM's button or the offer after a streak of
losses; the manager gets the deal, notes, guess and script, logs the client's answer
with his own form (what they told him, is the door open, the next step), and the rep
is told beside their guess. tests/scenarios/test_call_flow.py follows the call over
days, in App Home, with a colleague instead, and in three languages."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.clock import FakeClock
from tests.conftest import MANAGER, REP, RunningBot
from tests.support.debrief_steps import (
    CALL_ANSWERS,
    LOSS_ANSWERS,
    action_ids,
    assert_all_block_kit_valid,
    click,
    close_deal,
    dm_messages,
    ephemeral_replies,
    find_message,
    last_modal,
    log_the_call,
    nudges_of,
    runs,
    set_manager,
    submit,
    submit_call,
    texts,
)


def cat(bot: RunningBot, key: str, **values: object) -> str:
    return bot.rt.catalog.text("en", key, **values)


def test_without_a_manager_the_button_says_who_to_ask(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "manager_call_request")
    [reply] = ephemeral_replies(bot)
    # Nobody to ask as a manager — but a colleague may still make the call.
    assert reply == f"{cat(bot, 'manager.none_set')} {cat(bot, 'call.or_colleague')}"
    assert "/loop team @rep manager @manager" in reply
    assert runs(bot, "manager_call") == []


def test_manager_gets_the_deal_notes_guess_and_script_then_logs_and_the_rep_sees_it(
    bot: RunningBot,
) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "guess_open")
    submit(bot, REP, last_modal(bot), {"guess": "Our price was too high"})
    deal_dm = find_message(bot, REP, "manager_call_request")
    click(bot, REP, "manager_call_request")
    # A second click (on the same copy: the button is gone from the DM) asks nobody twice.
    bot.send(
        bot.slack.block_action(
            "manager_call_request", user=REP, channel=bot.standin.dm_channel(REP), message=deal_dm
        )
    )
    assert ephemeral_replies(bot) == [
        cat(bot, "manager.asked", manager=f"<@{MANAGER}>", account="Globex"),
        cat(bot, "call.already_open", caller=f"<@{MANAGER}>", account="Globex"),
    ]

    [dm] = dm_messages(bot, MANAGER)
    body = texts(dm)
    assert "Globex" in body and f"<@{REP}>" in body
    assert "Our price was too high" in body
    assert cat(bot, "manager.script_header") in body
    assert action_ids(dm) == ["manager_log_open", "manager_decline"]
    [call] = runs(bot, "manager_call")
    assert (call.user_slack_id, call.state) == (MANAGER, "open")

    click(bot, MANAGER, "manager_log_open")
    view = last_modal(bot)
    # His own questions, not the rep's debrief form.
    assert view["callback_id"] == "call_log"
    assert json.loads(view["private_metadata"])["as"] == "manager"
    fields = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert fields == ["heard", "reason_category", "competitor", "door", "next", "missed"]
    labels = json.dumps(view["blocks"], ensure_ascii=False)
    assert cat(bot, "manager.label_heard") in labels and cat(bot, "manager.label_door") in labels
    assert cat(bot, "log.label_needs") not in labels
    submit_call(bot, MANAGER, view, CALL_ANSWERS)
    summary = texts(dm_messages(bot, MANAGER)[-1])
    assert cat(bot, "log.loop_question") in summary and CALL_ANSWERS["next"] in summary
    click(bot, MANAGER, "log_confirm")

    [call] = runs(bot, "manager_call")
    assert call.state == "logged" and call.data["client"] == CALL_ANSWERS
    [debrief] = runs(bot, "loss_debrief")
    assert debrief.state == "logged" and debrief.data["logged_by"] == "manager"
    assert debrief.data["client"]["reason"] == CALL_ANSWERS["heard"]
    told = dm_messages(bot, REP)[-1]
    assert f"<@{MANAGER}>" in told["text"]
    body = texts(told)
    assert "Our price was too high" in body and CALL_ANSWERS["heard"] in body
    assert cat(bot, "manager.option_door_open") in body and CALL_ANSWERS["next"] in body
    assert_all_block_kit_valid(bot)


def test_three_losses_in_a_row_bring_exactly_one_offer(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Acme", REP)
    close_deal(bot, "won", "Initech", REP)  # a win ends a streak
    for account in ("Globex", "Hooli", "Umbrella", "Stark"):
        close_deal(bot, "lost", account, REP)
        bot.tick()
    offers = [m for m in dm_messages(bot, REP) if "streak_yes" in action_ids(m)]
    assert len(offers) == 1
    assert "Umbrella" in offers[0]["text"]
    offer_text = json.dumps(offers[0], ensure_ascii=False)
    streak_line = bot.rt.catalog.text("en", "manager.streak_offer", count=3, account="Umbrella")
    assert json.dumps(streak_line, ensure_ascii=False)[1:-1][:40] in offer_text
    assert len(nudges_of(bot, "loss_streak_offer")) == 1

    click(bot, REP, "streak_yes")
    [dm] = dm_messages(bot, MANAGER)
    assert "Umbrella" in dm["text"] and "manager_log_open" in action_ids(dm)
    offer = [m for m in dm_messages(bot, REP) if m["ts"] == offers[0]["ts"]][0]
    assert offer["text"] == cat(bot, "manager.asked", manager=f"<@{MANAGER}>", account="Umbrella")
    assert_all_block_kit_valid(bot)


def test_declining_the_streak_offer_sends_nothing_to_the_manager(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    for account in ("Globex", "Hooli", "Umbrella"):
        close_deal(bot, "lost", account, REP)
    bot.tick()
    click(bot, REP, "streak_no")
    assert dm_messages(bot, MANAGER) == []
    assert cat(bot, "manager.offer_declined") in [m["text"] for m in dm_messages(bot, REP)]


def test_unlogged_manager_call_reminds_the_manager_once(bot: RunningBot, clock: FakeClock) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    close_deal(bot, "lost", "Hooli", REP)
    click(bot, REP, "manager_call_request")  # on Hooli, the latest DM
    days = bot.rt.settings.debrief_reminder_days
    clock.advance(timedelta(days=days, minutes=1))
    bot.tick()
    reminder = dm_messages(bot, MANAGER)[1]
    assert reminder["text"] == cat(bot, "reminder.manager_call_fallback", account="Hooli")
    assert action_ids(reminder) == ["manager_log_open", "manager_decline"]
    # One row per call (its idempotency key), so "once" holds however long it stays open.
    assert [n.state for n in nudges_of(bot, "manager_call_reminder")] == ["sent"]
    assert [n.state for n in nudges_of(bot, "manager_call_dm")] == ["sent"]


def test_logged_manager_call_skips_its_reminder(bot: RunningBot, clock: FakeClock) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "manager_call_request")
    log_the_call(bot, MANAGER)
    before = len(dm_messages(bot, MANAGER))
    clock.advance(timedelta(days=bot.rt.settings.debrief_reminder_days + 1))
    bot.tick()
    assert len(dm_messages(bot, MANAGER)) == before
    [reminder] = nudges_of(bot, "manager_call_reminder")
    assert reminder.state == "skipped"


def test_manager_who_cannot_call_hands_it_back_and_the_rep_is_told(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "manager_call_request")
    click(bot, MANAGER, "manager_decline")
    [call] = runs(bot, "manager_call")
    assert call.state == "declined"
    told = dm_messages(bot, REP)[-1]
    assert told["text"] == cat(
        bot, "manager.rep_declined", manager=f"<@{MANAGER}>", account="Globex"
    )
    assert "debrief_start" in action_ids(told)
    # The debrief is the rep's again, with the one reminder their debrief has.
    [again] = [n for n in nudges_of(bot, "debrief_reminder") if n.state == "pending"]
    assert again.user_slack_id == REP


def _manager_logs(bot: RunningBot, answers: dict[str, str]) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "manager_call_request")
    log_the_call(bot, MANAGER, answers)


def test_manager_edit_reaches_the_reps_debrief_and_prep(bot: RunningBot) -> None:
    _manager_logs(bot, CALL_ANSWERS)
    click(bot, MANAGER, "log_edit")  # on "Thanks. I've sent … what you heard."
    view = last_modal(bot)
    assert view["callback_id"] == "call_log"
    assert CALL_ANSWERS["next"] in json.dumps(view)  # his answers, ready to change
    changed = {**CALL_ANSWERS, "missed": "We pitched features to a buyer who wanted a phased plan"}
    submit_call(bot, MANAGER, view, changed)
    click(bot, MANAGER, "log_confirm")
    [call] = runs(bot, "manager_call")
    assert call.data["client"] == changed
    [debrief] = runs(bot, "loss_debrief")
    assert debrief.data["client"]["missed"] == changed["missed"]
    assert debrief.data["logged_by"] == "manager"
    sheet = json.dumps(bot.send(bot.slack.slash_command("prep Globex", user=REP)).json())
    assert "We pitched features to a buyer who wanted a phased plan" in sheet
    assert CALL_ANSWERS["missed"] not in sheet
    # Whoever preps the account next sees that the door is open, and the next step.
    assert cat(bot, "manager.option_door_open") in sheet and CALL_ANSWERS["next"] in sheet
    # Each confirmed save tells the rep: the first and the edit.
    assert len(nudges_of(bot, "manager_call_result")) == 2


def test_manager_edit_leaves_the_reps_own_logged_answers_alone(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_log_open")
    submit(bot, REP, last_modal(bot), LOSS_ANSWERS)
    click(bot, REP, "log_confirm")
    click(bot, REP, "manager_call_request")
    log_the_call(bot, MANAGER, {**CALL_ANSWERS, "heard": "Manager's version"})
    [debrief] = runs(bot, "loss_debrief")
    assert debrief.data["client"] == LOSS_ANSWERS and debrief.data["logged_by"] == "rep"


def test_manager_confirm_on_an_older_summary_saves_nothing(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "manager_call_request")
    click(bot, MANAGER, "manager_log_open")
    submit_call(bot, MANAGER, last_modal(bot), CALL_ANSWERS)
    click(bot, MANAGER, "log_edit")
    changed = {**CALL_ANSWERS, "heard": "Their CFO froze the budget"}
    submit_call(bot, MANAGER, last_modal(bot), changed)
    first, newest = [m for m in dm_messages(bot, MANAGER) if "log_confirm" in action_ids(m)]
    channel = bot.standin.dm_channel(MANAGER)
    older = bot.slack.block_action("log_confirm", user=MANAGER, channel=channel, message=first)
    bot.send(older)
    assert ephemeral_replies(bot)[-1] == cat(bot, "log.newer_version")
    [call] = runs(bot, "manager_call")
    assert call.state == "open" and call.data["draft"] == changed
    newer = bot.slack.block_action("log_confirm", user=MANAGER, channel=channel, message=newest)
    bot.send(newer)
    [call] = runs(bot, "manager_call")
    assert call.state == "logged" and call.data["client"] == changed


def _make_admins(bot: RunningBot, *slack_ids: str) -> None:
    from sqlmodel import Session

    from storage.models import Person

    with Session(bot.rt.engine) as s:
        for slack_id in slack_ids:
            s.add(Person(team_id=bot.slack.team_id, slack_id=slack_id, is_admin=True))
        s.commit()


def test_without_a_manager_the_button_names_the_admins_it_knows(bot: RunningBot) -> None:
    _make_admins(bot, "U0ADMIN", "U0ADM2", "U0ADM3", "U0ADM4")
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "manager_call_request")
    [reply] = ephemeral_replies(bot)
    # At most three, as mentions Slack renders as names.
    admins = cat(bot, "manager.none_set_admins", admins="<@U0ADMIN>, <@U0ADM2>, <@U0ADM3>")
    assert reply == f"{admins} {cat(bot, 'call.or_colleague')}"
    assert "U0ADM4" not in reply and "/loop team @rep manager @manager" in reply
    assert runs(bot, "manager_call") == []


def test_hugged_rep_without_a_manager_is_told_who_can_set_one(bot: RunningBot) -> None:
    _make_admins(bot, "U0ADMIN")
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_hugged")
    click(bot, REP, "loss_tell_manager")
    assert ephemeral_replies(bot) == [cat(bot, "manager.none_set_admins", admins="<@U0ADMIN>")]


def test_streak_without_a_manager_says_who_can_set_one_instead_of_offering_to_ask(
    bot: RunningBot,
) -> None:
    _make_admins(bot, "U0ADMIN")
    for account in ("Globex", "Hooli", "Umbrella"):
        close_deal(bot, "lost", account, REP)
    bot.tick()
    [offer] = [m for m in dm_messages(bot, REP) if "3" in m["text"] and "Umbrella" in m["text"]]
    who = cat(bot, "manager.an_admin", admins="<@U0ADMIN>")
    assert offer["text"] == cat(
        bot, "manager.streak_no_manager", count=3, account="Umbrella", who=who
    )
    assert "streak_yes" not in action_ids(offer)
    assert action_ids(offer) == ["debrief_start"]
    assert_all_block_kit_valid(bot)


def test_streak_without_a_manager_or_known_admin_says_ask_your_admin(bot: RunningBot) -> None:
    for account in ("Globex", "Hooli", "Umbrella"):
        close_deal(bot, "lost", account, REP)
    bot.tick()
    [offer] = [m for m in dm_messages(bot, REP) if "debrief_start" in action_ids(m)]
    who = cat(bot, "manager.your_admin")
    assert offer["text"] == cat(
        bot, "manager.streak_no_manager", count=3, account="Umbrella", who=who
    )


def test_yes_on_a_streak_offer_sent_before_the_manager_was_removed_names_the_admins(
    bot: RunningBot,
) -> None:
    _make_admins(bot, "U0ADMIN")
    set_manager(bot, REP, MANAGER)
    for account in ("Globex", "Hooli", "Umbrella"):
        close_deal(bot, "lost", account, REP)
    bot.tick()
    set_manager(bot, REP, None)
    click(bot, REP, "streak_yes")
    admins = cat(bot, "manager.none_set_admins", admins="<@U0ADMIN>")
    assert ephemeral_replies(bot) == [f"{admins} {cat(bot, 'call.or_colleague')}"]
    assert runs(bot, "manager_call") == []
