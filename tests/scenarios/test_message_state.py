"""Every interactive message reflects its state: after a click its buttons make way for
the choice made (with a way to change it where that makes sense), a second click has
one effect, an old copy of a message (a stale button) does the right thing and says so,
a message Slack won't update keeps the choice, and nobody clicks someone else's buttons.

Each test drives the real app with signed Slack requests against the stand-in; the
messages are read back from the stand-in as they stand after `chat.update`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.devkit.requests import datepicker_value, plain_text_value, radio_buttons_value
from bot.devkit.standin import check_message_blocks
from tests.conftest import MANAGER, REP, REP2, RunningBot
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
    runs,
    set_manager,
    submit,
    texts,
)

REP_FR = "U0REP3"
LANG_REPS = {"en": REP, "es": REP2, "fr": REP_FR}


@pytest.fixture(params=["en", "es", "fr"])
def lang_rep(request: pytest.FixtureRequest, bot: RunningBot) -> tuple[str, str]:
    """A rep in each language: REP is en-US, REP2 es-ES, and a French rep added here."""
    bot.standin.add_user(
        REP_FR, name="fanny", real_name="Fanny Vendeuse", tz="Europe/Paris", locale="fr-FR"
    )
    bot.standin.set_dnd(REP_FR, dnd_enabled=False)
    return request.param, LANG_REPS[request.param]


def cat(bot: RunningBot, key: str, lang: str = "en", **values: Any) -> str:
    return bot.rt.catalog.text(lang, key, **values)


def press(
    bot: RunningBot, action_id: str, user: str = REP, *, message: dict[str, Any] | None = None
) -> Any:
    """A click (not yet sent) on `message`, or on the latest DM holding `action_id`."""
    return bot.slack.block_action(
        action_id,
        user=user,
        channel=bot.standin.dm_channel(user),
        message=message or find_message(bot, user, action_id),
    )


def last_update(bot: RunningBot) -> dict[str, Any]:
    [*_, call] = bot.standin.calls_to("chat.update", ok=True)
    body = dict(call.body)
    blocks = body.get("blocks")
    body["blocks"] = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert check_message_blocks(body["blocks"]) == []
    return body


def chosen(bot: RunningBot, lang: str, label_key: str) -> str:
    return cat(bot, "clicks.chosen", lang, choice=f"*{cat(bot, label_key, lang)}*")


def plain(text: str) -> str:
    """How a text reads inside a JSON dump of blocks (quotes and newlines escaped)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def log_loss(bot: RunningBot, user: str = REP) -> None:
    """The rep logs what the client said and confirms the loop-back."""
    click(bot, user, "loss_log_open")
    submit(bot, user, last_modal(bot), LOSS_ANSWERS)
    click(bot, user, "log_confirm")


# --- heard / helped / hugged ----------------------------------------------------------------


def test_heard_replaces_its_button_with_the_choice_and_keeps_the_others_to_change_it(
    bot: RunningBot, lang_rep: tuple[str, str]
) -> None:
    lang, rep = lang_rep
    close_deal(bot, "lost", "Globex", rep)
    updates = len(bot.standin.calls_to("chat.update"))
    click(bot, rep, "loss_mode_heard")
    assert len(bot.standin.calls_to("chat.update")) == updates + 1
    update = last_update(bot)
    ids = action_ids(update)
    assert "loss_mode_heard" not in ids
    assert {"loss_mode_helped", "loss_mode_hugged"} <= set(ids)
    dumped = json.dumps(update["blocks"], ensure_ascii=False)
    assert plain(chosen(bot, lang, "loss.button_heard")) in dumped
    assert plain(cat(bot, "state.change_until_logged", lang)) in dumped
    # The DM as it stands is that update.
    assert action_ids(dm_messages(bot, rep)[0]) == ids
    [run] = runs(bot, "loss_debrief")
    assert run.data["mode"] == "heard"
    assert_all_block_kit_valid(bot)


def test_changing_heard_to_hugged_moves_the_choice(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_heard")
    click(bot, REP, "loss_mode_hugged")
    deal_dm = dm_messages(bot, REP)[0]
    assert "loss_mode_hugged" not in action_ids(deal_dm)
    assert {"loss_mode_heard", "loss_mode_helped"} <= set(action_ids(deal_dm))
    assert plain(chosen(bot, "en", "loss.button_hugged")) in texts(deal_dm)
    lines = [b for b in deal_dm["blocks"] if b.get("block_id") == "clicks_choice"]
    assert len(lines) == 1
    [run] = runs(bot, "loss_debrief")
    assert run.data["mode"] == "hugged"


def test_helped_twice_sends_the_plan_and_the_script_once_and_says_so(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    first, second = press(bot, "loss_mode_helped"), press(bot, "loss_mode_helped")
    bot.send(first)
    bot.send(second)  # the same copy of the DM, clicked again
    # The deal DM, the plan and the opener: three messages, not five.
    assert len(dm_messages(bot, REP)) == 3
    assert ephemeral_replies(bot) == [
        cat(bot, "state.already_answered", choice=cat(bot, "loss.button_helped"))
    ]


def test_going_back_to_helped_does_not_repeat_the_script(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_mode_heard")
    click(bot, REP, "loss_mode_helped")
    scripts = [m for m in dm_messages(bot, REP) if "debrief_stage" in texts(m)]
    assert len(scripts) == 1


def test_im_ready_twice_posts_the_script_once_and_points_at_it(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_heard")
    first, second = press(bot, "debrief_start"), press(bot, "debrief_start")
    bot.send(first)
    bot.send(second)
    scripts = [m for m in dm_messages(bot, REP) if "debrief_stage" in texts(m)]
    assert len(scripts) == 1
    assert ephemeral_replies(bot)[-1] == cat(bot, "state.script_above", account="Globex")
    heard_reply = dm_messages(bot, REP)[1]
    assert "debrief_start" not in action_ids(heard_reply)


def test_logging_the_debrief_locks_the_choice_on_the_deal_dm(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    log_loss(bot)
    deal_dm = dm_messages(bot, REP)[0]
    assert not [a for a in action_ids(deal_dm) if a.startswith("loss_mode_")]
    assert plain(chosen(bot, "en", "loss.button_helped")) in texts(deal_dm)
    assert plain(cat(bot, "state.logged")) in texts(deal_dm)
    assert_all_block_kit_valid(bot)


def test_heard_on_an_old_copy_after_the_debrief_was_logged_says_so_and_shows_it(
    bot: RunningBot,
) -> None:
    close_deal(bot, "lost", "Globex", REP)
    old_copy = dm_messages(bot, REP)[0]
    click(bot, REP, "loss_mode_helped")
    log_loss(bot)
    before = len(dm_messages(bot, REP))
    bot.send(press(bot, "loss_mode_heard", message=old_copy))
    assert len(dm_messages(bot, REP)) == before  # no "the debrief will be here" DM
    [*_, shown] = bot.standin.calls_to("response_url")
    assert shown.body["text"] == cat(bot, "state.already_logged", account="Globex")
    assert shown.body["response_type"] == "ephemeral"
    assert LOSS_ANSWERS["missed"] in json.dumps(shown.body["blocks"])
    assert "log_edit" in json.dumps(shown.body["blocks"])
    [run] = runs(bot, "loss_debrief")
    assert run.data["mode"] == "helped"  # the old click changed nothing
    # The old copy was brought up to date too.
    assert not [a for a in action_ids(dm_messages(bot, REP)[0]) if a.startswith("loss_mode_")]


def test_confirm_twice_saves_once_and_shows_what_was_saved(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_log_open")
    submit(bot, REP, last_modal(bot), LOSS_ANSWERS)
    first, second = press(bot, "log_confirm"), press(bot, "log_confirm")
    bot.send(first)
    bot.send(second)
    [run] = runs(bot, "loss_debrief")
    assert run.state == "logged" and run.data["client"] == LOSS_ANSWERS
    thanks = cat(bot, "log.saved", account="Globex")
    saved = [m for m in dm_messages(bot, REP) if thanks in texts(m)]
    assert len(saved) == 1
    assert ephemeral_replies(bot)[-1] == cat(bot, "state.already_logged", account="Globex")


# --- /loop debrief on a logged debrief --------------------------------------------------------


def test_loop_debrief_on_a_logged_debrief_shows_the_saved_answers_with_edit(
    bot: RunningBot, lang_rep: tuple[str, str]
) -> None:
    lang, rep = lang_rep
    close_deal(bot, "lost", "Globex", rep)
    click(bot, rep, "loss_mode_helped")
    log_loss(bot, rep)
    before = len(dm_messages(bot, rep))
    result = bot.send(bot.slack.slash_command("debrief Globex", user=rep))
    answer = result.json()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == cat(bot, "state.already_logged", lang, account="Globex")
    assert check_message_blocks(answer["blocks"]) == []
    assert LOSS_ANSWERS["takeaways"] in json.dumps(answer["blocks"])
    assert len(dm_messages(bot, rep)) == before  # no new script ("Guess saved. Now…")
    # Edit opens the form with the saved answers.
    edit = bot.slack.block_action(
        "log_edit", user=rep, message={"blocks": answer["blocks"]}, is_ephemeral=True
    )
    assert bot.send(edit).status == 200
    form = json.dumps(last_modal(bot), ensure_ascii=False)
    assert LOSS_ANSWERS["reason"] in form and LOSS_ANSWERS["takeaways"] in form


def test_loop_debrief_after_the_manager_logged_the_call_shows_what_the_client_told_them(
    bot: RunningBot,
) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "manager_call_request")
    log_the_call(bot, MANAGER)  # the manager's own form: what they heard, the door, next
    answer = bot.send(bot.slack.slash_command("debrief Globex", user=REP)).json()
    assert answer["text"] == cat(
        bot, "state.logged_by_manager", manager=f"<@{MANAGER}>", account="Globex"
    )
    assert CALL_ANSWERS["heard"] in json.dumps(answer["blocks"], ensure_ascii=False)
    assert "log_edit" in json.dumps(answer["blocks"])
    # The rep's deal DM shows the debrief is logged.
    assert plain(cat(bot, "state.logged")) in texts(dm_messages(bot, REP)[0])


# --- Slack refusing the update ---------------------------------------------------------------


@pytest.mark.parametrize(
    "error", ["message_not_found", "cant_update_message", "edit_window_closed"]
)
def test_an_update_slack_refuses_keeps_the_choice_and_replaces_through_response_url(
    bot: RunningBot, error: str
) -> None:
    close_deal(bot, "lost", "Globex", REP)
    bot.standin.fail_next("chat.update", error=error)
    click(bot, REP, "loss_mode_heard")
    [run] = runs(bot, "loss_debrief")
    assert run.data["mode"] == "heard"
    [replaced] = [c for c in bot.standin.calls_to("response_url") if c.body.get("replace_original")]
    assert plain(chosen(bot, "en", "loss.button_heard")) in json.dumps(
        replaced.body["blocks"], ensure_ascii=False
    )
    heard = cat(bot, "mode.heard", account="Globex")
    assert any(heard in m["text"] for m in dm_messages(bot, REP))  # the reply still came


def test_when_no_update_gets_through_the_choice_is_kept_and_the_rep_is_told(
    bot: RunningBot,
) -> None:
    close_deal(bot, "lost", "Globex", REP)
    bot.standin.fail_next("chat.update", error="edit_window_closed")
    bot.standin.fail_next("response_url", status=404, error="expired_url")
    click(bot, REP, "loss_mode_hugged")
    [run] = runs(bot, "loss_debrief")
    assert run.data["mode"] == "hugged"
    told = cat(bot, "state.kept_not_shown", choice=cat(bot, "loss.button_hugged"))
    assert told in ephemeral_replies(bot)
    assert len(dm_messages(bot, REP)) == 2  # the deal DM and the hugged reply


# --- someone else's buttons ------------------------------------------------------------------


@pytest.mark.parametrize("clicker", [REP2, MANAGER, "U0FORGED1"])
def test_someone_elses_heard_button_is_refused_and_changes_nothing(
    bot: RunningBot, clicker: str
) -> None:
    close_deal(bot, "lost", "Globex", REP)
    deal_dm = dm_messages(bot, REP)[0]
    updates = len(bot.standin.calls_to("chat.update"))
    request = bot.slack.block_action(
        "loss_mode_heard", user=clicker, channel=bot.standin.dm_channel(REP), message=deal_dm
    )
    assert bot.send(request).status == 200
    assert len(bot.standin.calls_to("chat.update")) == updates
    [run] = runs(bot, "loss_debrief")
    assert run.data.get("mode") is None
    lang = "es" if clicker == REP2 else "en"  # REP2 is es-ES; unknown people get English
    assert ephemeral_replies(bot) == [cat(bot, "privacy.not_yours", lang)]
    assert dm_messages(bot, REP)[0] == deal_dm


# --- win debrief -----------------------------------------------------------------------------


def test_a_logged_win_shows_logged_and_edit_on_the_deal_dm(
    bot: RunningBot, lang_rep: tuple[str, str]
) -> None:
    lang, rep = lang_rep
    close_deal(bot, "won", "Initech", rep)
    click(bot, rep, "win_log_open")
    submit(bot, rep, last_modal(bot), {"why": "Fast rollout", "appealed": "The onboarding plan"})
    deal_dm = dm_messages(bot, rep)[0]
    assert plain(cat(bot, "state.logged", lang)) in texts(deal_dm)
    [edit] = [
        e
        for b in deal_dm["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "win_log_open"
    ]
    assert edit["text"]["text"] == cat(bot, "common.button_edit", lang)
    click(bot, rep, "win_log_open")
    assert "Fast rollout" in json.dumps(last_modal(bot))
    assert_all_block_kit_valid(bot)


def test_loop_debrief_on_a_logged_win_shows_the_saved_answers_with_edit(
    bot: RunningBot, lang_rep: tuple[str, str]
) -> None:
    lang, rep = lang_rep
    close_deal(bot, "won", "Initech", rep)
    click(bot, rep, "win_log_open")
    answers = {"why": "Fast rollout <@U0OTHER>", "appealed": "The onboarding plan"}
    submit(bot, rep, last_modal(bot), answers)
    opened = len(bot.standin.calls_to("views.open"))
    answer = bot.send(bot.slack.slash_command("debrief Initech", user=rep)).json()
    assert len(bot.standin.calls_to("views.open")) == opened  # no form thrown at them
    assert answer["text"] == cat(bot, "state.already_logged", lang, account="Initech")
    assert check_message_blocks(answer["blocks"]) == []
    shown = json.dumps(answer["blocks"], ensure_ascii=False)
    assert "The onboarding plan" in shown and "&lt;@U0OTHER&gt;" in shown  # their words, inert
    edit = bot.slack.block_action(
        "win_log_open", user=rep, message={"blocks": answer["blocks"]}, is_ephemeral=True
    )
    assert bot.send(edit).status == 200
    assert "The onboarding plan" in json.dumps(last_modal(bot), ensure_ascii=False)


# --- tee-up ----------------------------------------------------------------------------------


def test_not_asked_yet_shows_the_choice_keeps_the_other_two_and_follows_up_with_the_question(
    bot: RunningBot, clock: FakeClock, lang_rep: tuple[str, str]
) -> None:
    lang, rep = lang_rep
    bot.send(bot.slack.slash_command("tee-up Acme Corp", user=rep))
    first, second = press(bot, "teeup_not_asked", rep), press(bot, "teeup_not_asked", rep)
    bot.send(first)
    bot.send(second)
    update = last_update(bot)
    ids = action_ids(update)
    assert ids == ["teeup_agreed", "teeup_declined"]
    assert plain(chosen(bot, lang, "teeup.button_not_asked")) in json.dumps(
        update["blocks"], ensure_ascii=False
    )
    assert ephemeral_replies(bot)[-1] == cat(
        bot, "state.already_answered", lang, choice=cat(bot, "teeup.button_not_asked", lang)
    )
    clock.advance(timedelta(days=2, minutes=1))
    bot.tick()
    followups = [m for m in dm_messages(bot, rep) if "teeup_not_asked" in action_ids(m)]
    [followup] = followups
    # The question alone: the script is in the first DM, not sent a second time.
    assert followup["blocks"][0]["type"] == "section"
    assert cat(bot, "teeup.script", lang, account="Acme Corp")[:40] not in texts(followup)
    assert plain(cat(bot, "state.teeup_followup", lang, account="Acme Corp")) in texts(followup)
    click(bot, rep, "teeup_agreed")
    answered = dm_messages(bot, rep)[-1]
    assert action_ids(answered) == []
    assert plain(chosen(bot, lang, "teeup.button_agreed")) in texts(answered)


def test_someone_else_cannot_answer_a_reps_tee_up(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("tee-up Acme Corp", user=REP))
    dm = find_message(bot, REP, "teeup_agreed")
    request = bot.slack.block_action(
        "teeup_agreed", user=REP2, channel=bot.standin.dm_channel(REP), message=dm
    )
    bot.send(request)
    assert runs(bot, "tee_up") == []
    assert "teeup_agreed" in action_ids(dm_messages(bot, REP)[-1])


# --- concern check-ins -----------------------------------------------------------------------


def test_an_old_copy_of_an_answered_check_in_shows_what_was_recorded(
    bot: RunningBot, clock: FakeClock, lang_rep: tuple[str, str]
) -> None:
    lang, rep = lang_rep
    bot.send(bot.slack.slash_command("concern Acme Corp — payload limits", user=rep))
    clock.advance(timedelta(hours=48))
    bot.tick()
    checkin = find_message(bot, rep, "concern_not_yet")
    bot.send(press(bot, "concern_not_yet", rep, message=checkin))
    update = last_update(bot)
    assert plain(chosen(bot, lang, "concern.button_not_yet")) in json.dumps(
        update["blocks"], ensure_ascii=False
    )
    assert not [b for b in update["blocks"] if b["type"] == "actions"]
    bot.send(press(bot, "concern_didnt_ask", rep, message=checkin))  # the old copy
    [run] = runs(bot, "concern")
    assert [a["answer"] for a in run.data["asks"]] == ["not_yet"]
    assert ephemeral_replies(bot)[-1] == cat(
        bot, "state.already_answered", lang, choice=cat(bot, "concern.button_not_yet", lang)
    )
    assert plain(chosen(bot, lang, "concern.button_not_yet")) in json.dumps(
        last_update(bot)["blocks"], ensure_ascii=False
    )


# --- screen-out review -----------------------------------------------------------------------


def _screen_out(bot: RunningBot, view: dict[str, Any], potential: str, review: str) -> None:
    values = {
        "screen_out_potential": {"potential": radio_buttons_value(potential)},
        "screen_out_review": {"review_date": datepicker_value(review)},
        "screen_out_notes": {"notes": plain_text_value(None)},
    }
    request = bot.slack.view_submission(
        "screen_out_submit", values, user=REP, private_metadata=view["private_metadata"]
    )
    assert bot.send(request).status == 200


def test_a_reviewed_screen_out_shows_the_next_date_and_an_old_copy_says_it_is_done(
    bot: RunningBot, clock: FakeClock
) -> None:
    bot.send(bot.slack.slash_command("screen-out Acme Corp", user=REP))
    _screen_out(bot, last_modal(bot), "no", "2026-12-01")
    clock.set(datetime(2026, 12, 1, 14, 0, tzinfo=UTC))
    bot.tick()
    review = find_message(bot, REP, "screen_out_review_now")
    click(bot, REP, "screen_out_review_now")
    _screen_out(bot, last_modal(bot), "yes", "2027-06-01")
    reviewed = [m for m in dm_messages(bot, REP) if m["ts"] == review["ts"]][0]
    assert action_ids(reviewed) == []
    # Dates read the reader's way (bot/messages/formats.py), never ISO.
    assert plain(cat(bot, "state.reviewed", date="June 1, 2027")) in texts(reviewed)
    opened = len(bot.standin.calls_to("views.open"))
    bot.send(press(bot, "screen_out_review_now", message=review))  # the old copy
    assert len(bot.standin.calls_to("views.open")) == opened
    assert ephemeral_replies(bot)[-1] == cat(bot, "state.already_reviewed", account="Acme Corp")
    assert_all_block_kit_valid(bot)


# --- sharing a lesson ------------------------------------------------------------------------


def test_share_makes_way_for_the_choice_and_edit_stays(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    log_loss(bot)
    click(bot, REP, "privacy_share")
    saved = find_message(bot, REP, "log_edit")
    assert "privacy_share" not in action_ids(saved)
    assert "concern_open" in action_ids(saved)
    assert plain(chosen(bot, "en", "privacy.button_share")) in texts(saved)


# --- an older loop-back summary, and telling the manager -----------------------------------


def test_confirm_on_an_older_summary_takes_its_buttons_away_and_says_why(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_log_open")
    submit(bot, REP, last_modal(bot), LOSS_ANSWERS)
    first = find_message(bot, REP, "log_confirm")
    bot.send(press(bot, "log_edit", message=first))
    submit(bot, REP, last_modal(bot), {**LOSS_ANSWERS, "reason": "Budget moved to next year"})
    bot.send(press(bot, "log_confirm", message=first))
    [run] = runs(bot, "loss_debrief")
    assert run.state != "logged"
    old = [m for m in dm_messages(bot, REP) if m["ts"] == first["ts"]][0]
    assert action_ids(old) == []
    assert plain(cat(bot, "state.outdated_summary")) in texts(old)
    assert ephemeral_replies(bot)[-1] == cat(bot, "log.newer_version")
    assert "log_confirm" in action_ids(dm_messages(bot, REP)[-1])  # the newest stays


def test_tell_my_manager_twice_tells_them_once_and_the_button_makes_way(
    bot: RunningBot,
) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_hugged")
    first, second = press(bot, "loss_tell_manager"), press(bot, "loss_tell_manager")
    bot.send(first)
    bot.send(second)
    assert len(dm_messages(bot, MANAGER)) == 1
    hugged = find_message(bot, REP, "debrief_start")
    assert "loss_tell_manager" not in action_ids(hugged)
    assert plain(chosen(bot, "en", "mode.button_tell_manager")) in texts(hugged)


def test_other_people_cannot_answer_a_reps_check_in_review_or_summary(
    bot: RunningBot, clock: FakeClock
) -> None:
    bot.send(bot.slack.slash_command("concern Acme Corp — payload limits", user=REP))
    bot.send(bot.slack.slash_command("screen-out Initech", user=REP))
    _screen_out(bot, last_modal(bot), "no", "2026-12-01")
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_log_open")
    submit(bot, REP, last_modal(bot), LOSS_ANSWERS)
    clock.set(datetime(2026, 12, 1, 14, 0, tzinfo=UTC))
    bot.tick()
    updates = len(bot.standin.calls_to("chat.update"))
    answered = len(ephemeral_replies(bot))
    for action_id in ("concern_satisfied", "screen_out_review_now", "log_confirm"):
        message = find_message(bot, REP, action_id)
        for clicker in (REP2, "U0FORGED1"):
            request = bot.slack.block_action(
                action_id, user=clicker, channel=bot.standin.dm_channel(REP), message=message
            )
            assert bot.send(request).status == 200
    assert len(bot.standin.calls_to("chat.update")) == updates
    assert len(bot.standin.calls_to("views.open")) == 2  # the rep's own two forms only
    [concern] = runs(bot, "concern")
    assert concern.data.get("asks", []) == []
    [debrief] = runs(bot, "loss_debrief")
    assert debrief.state != "logged"
    refusals = {cat(bot, "privacy.not_yours"), cat(bot, "privacy.not_yours", "es")}
    replies = ephemeral_replies(bot)[answered:]
    assert len(replies) == 6 and set(replies) <= refusals


def test_heard_on_a_copy_from_before_the_deal_became_a_win_says_so(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    old_copy = dm_messages(bot, REP)[0]
    [deal_id] = [r.deal_id for r in runs(bot, "loss_debrief")]
    fix = bot.slack.block_action(
        "deal_fix",
        user=REP,
        channel=bot.standin.dm_channel(REP),
        message=old_copy,
        action_type="overflow",
        selected_option={
            "text": {"type": "plain_text", "text": "x"},
            "value": f"{deal_id}:outcome",
        },
    )
    bot.send(fix)
    [*_, picker] = bot.standin.calls_to("response_url")
    pick = bot.slack.block_action(
        "deal_fix_outcome_won",
        user=REP,
        channel=bot.standin.dm_channel(REP),
        message={"blocks": picker.body["blocks"]},
        is_ephemeral=True,
    )
    bot.send(pick)
    bot.send(press(bot, "loss_mode_heard", message=old_copy))
    won = cat(bot, "deal.outcome_won")
    assert ephemeral_replies(bot)[-1] == cat(
        bot, "state.deal_changed", account="Globex", outcome=won
    )
    assert not [a for a in action_ids(dm_messages(bot, REP)[0]) if a.startswith("loss_mode_")]
    heard = cat(bot, "mode.heard", account="Globex")
    assert not any(heard in m["text"] for m in dm_messages(bot, REP))


# --- the stand-in's chat.update, as Slack answers it -----------------------------------------


# The no_text case leaves `text` out on purpose; slack_sdk warns about exactly that.
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_the_standin_answers_chat_update_as_slack_does(bot: RunningBot) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    standin = bot.standin
    web = WebClient(token=standin.token, base_url=standin.api_url)
    posted = web.chat_postMessage(channel=REP, text="Pick one")
    channel, ts = posted["channel"], posted["ts"]
    updated = web.chat_update(channel=channel, ts=ts, text="Picked", blocks=[])
    # Slack's shape: ok, channel, ts, text, and the message without its ts.
    assert (updated["ok"], updated["channel"], updated["ts"], updated["text"]) == (
        True,
        channel,
        ts,
        "Picked",
    )
    assert updated["message"]["text"] == "Picked" and "ts" not in updated["message"]
    failures = {
        "message_not_found": {"channel": channel, "ts": "1.000001"},
        "channel_not_found": {"channel": REP, "ts": ts},  # a user id is no channel here
        "no_text": {"channel": channel, "ts": ts},
    }
    for error, where in failures.items():
        with pytest.raises(SlackApiError) as raised:
            web.chat_update(**where, **({} if error == "no_text" else {"text": "x"}))
        assert raised.value.response["error"] == error
    person = standin.post_as_user(REP, channel, "my own words")
    with pytest.raises(SlackApiError) as raised:
        web.chat_update(channel=channel, ts=person, text="x")
    assert raised.value.response["error"] == "cant_update_message"
    standin.close_edit_window(channel, ts)
    with pytest.raises(SlackApiError) as raised:
        web.chat_update(channel=channel, ts=ts, text="x")
    assert raised.value.response["error"] == "edit_window_closed"


def test_a_deal_dm_past_its_edit_window_keeps_the_choice(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    deal_dm = dm_messages(bot, REP)[0]
    bot.standin.close_edit_window(bot.standin.dm_channel(REP), deal_dm["ts"])
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_mode_hugged")
    [run] = runs(bot, "loss_debrief")
    assert run.data["mode"] == "hugged"
    refused = bot.standin.calls_to("chat.update", ok=False)
    assert {c.response.get("error") for c in refused} == {"edit_window_closed"}
    replaced = [c for c in bot.standin.calls_to("response_url") if c.body.get("replace_original")]
    assert len(replaced) == 2  # each choice shown through the click's response_url instead
    assert plain(chosen(bot, "en", "loss.button_hugged")) in json.dumps(
        replaced[-1].body["blocks"], ensure_ascii=False
    )


def test_ask_my_manager_makes_way_for_who_was_asked(
    bot: RunningBot, lang_rep: tuple[str, str]
) -> None:
    lang, rep = lang_rep
    set_manager(bot, rep, MANAGER)
    close_deal(bot, "lost", "Globex", rep)
    click(bot, rep, "manager_call_request")
    deal_dm = dm_messages(bot, rep)[0]
    assert "manager_call_request" not in action_ids(deal_dm)
    assert plain(cat(bot, "state.call_asked", lang, who=f"<@{MANAGER}>")) in texts(deal_dm)
    assert len(dm_messages(bot, MANAGER)) == 1
    assert_all_block_kit_valid(bot)


# --- the evening reflection ------------------------------------------------------------------


def test_skip_on_an_old_copy_of_a_day_already_reflected_on_keeps_the_reflection(
    bot: RunningBot,
) -> None:
    from tests.scenarios.test_reflection import at, know, open_and_submit, reflection_dms, utc

    know(bot, REP)
    at(bot, utc(2026, 11, 23, 12))
    at(bot, utc(2026, 11, 23, 22, 30))
    [dm] = reflection_dms(bot, REP)
    answers = {"went": "Asked why.", "short": "Talked too much.", "better": "Let it sit."}
    open_and_submit(bot, REP, dm, answers)
    message = {"type": "message", "ts": dm["ts"], "blocks": dm["blocks"], "text": dm["text"]}
    skip = bot.slack.block_action(
        "reflect_skip", user=REP, channel=bot.standin.dm_channel(REP), message=message
    )
    assert bot.send(skip).status == 200
    [*_, update] = bot.standin.calls_to("chat.update", ok=True)
    assert update.body["text"] == cat(bot, "reflect.let_go")  # not "skipped"
    assert ephemeral_replies(bot)[-1] == cat(bot, "state.reflection_kept")
    with_answers = [m for m in dm_messages(bot, REP) if m["ts"] == dm["ts"]]
    assert with_answers and with_answers[0]["text"] == cat(bot, "reflect.let_go")


# --- the debrief reminder --------------------------------------------------------------------


def test_a_reminder_sent_before_the_debrief_was_logged_shows_it_logged(
    bot: RunningBot, clock: FakeClock, lang_rep: tuple[str, str]
) -> None:
    lang, rep = lang_rep
    close_deal(bot, "lost", "Globex", rep)
    clock.advance(timedelta(days=bot.rt.settings.debrief_reminder_days, minutes=1))
    bot.tick()
    reminder = find_message(bot, rep, "loss_log_open")
    click(bot, rep, "loss_log_open")
    submit(bot, rep, last_modal(bot), LOSS_ANSWERS)
    click(bot, rep, "log_confirm")
    now = [m for m in dm_messages(bot, rep) if m["ts"] == reminder["ts"]][0]
    assert action_ids(now) == []
    assert plain(cat(bot, "state.logged", lang)) in texts(now)
    assert_all_block_kit_valid(bot)
