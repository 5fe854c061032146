"""A lost deal -> heard / helped / hugged -> the three-stage script -> the rep's guess ->
the client's answer, looped back before it is saved -> guess next to reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.clock import FakeClock
from storage.models import Deal, Nudge, RitualRun
from tests.conftest import MANAGER, REP, RunningBot
from tests.support.debrief_steps import (
    LOSS_ANSWERS,
    action_ids,
    assert_all_block_kit_valid,
    click,
    close_deal,
    dm_messages,
    ephemeral_replies,
    find_message,
    last_modal,
    nudges_of,
    runs,
    set_manager,
    submit,
    texts,
)


def cat(bot: RunningBot, key: str, **values: str) -> str:
    return bot.rt.catalog.text("en", key, **values)


@pytest.mark.parametrize("mode", ["heard", "helped", "hugged"])
def test_each_mode_gets_its_own_reply(bot: RunningBot, mode: str) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, f"loss_mode_{mode}")
    messages = dm_messages(bot, REP)
    reply = messages[1]
    assert cat(bot, f"mode.{mode}", account="Globex") in reply["text"]
    if mode == "heard":
        # Heard: no advice, no script — only a way in when they are ready.
        assert action_ids(reply) == ["debrief_start"] and len(messages) == 2
    elif mode == "helped":
        # Helped: straight to the plan, and the script right after it.
        assert action_ids(messages[2])[-2:] == ["debrief_next", "loss_log_open"]
        assert cat(bot, "debrief.opener.header") in texts(messages[2])
    else:
        assert action_ids(reply) == ["loss_tell_manager", "debrief_start"]
    [run] = runs(bot, "loss_debrief")
    assert run.data["mode"] == mode
    assert_all_block_kit_valid(bot)


def test_full_loss_debrief_loops_back_before_saving_and_shows_guess_vs_reason(
    bot: RunningBot,
) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_heard")
    click(bot, REP, "debrief_start")

    # The script, stage by stage, updated in place.
    script = find_message(bot, REP, "debrief_next")
    assert cat(bot, "debrief.opener.header") in texts(script)
    assert cat(bot, "guess.button_write") in texts(script)
    click(bot, REP, "debrief_next")
    script = find_message(bot, REP, "debrief_next")
    assert cat(bot, "debrief.exchange.header") in texts(script)
    assert cat(bot, "debrief.exchange.line2") in texts(script)
    click(bot, REP, "debrief_next")
    script = find_message(bot, REP, "loss_log_open")
    assert cat(bot, "debrief.closer.header") in texts(script)
    # Two updates of the script itself (the deal DM was updated too, to show the mode).
    updates = [c for c in bot.standin.calls_to("chat.update") if c.body["ts"] == script["ts"]]
    assert len(updates) == 2

    # The rep's own guess, before the call.
    click(bot, REP, "guess_open")
    guess_view = last_modal(bot)
    assert guess_view["callback_id"] == "guess_log"
    submit(bot, REP, guess_view, {"guess": "Our price was too high"})
    [run] = runs(bot, "loss_debrief")
    assert run.data["guess"] == "Our price was too high"
    script = find_message(bot, REP, "loss_log_open")
    assert "Our price was too high" in texts(script)
    assert "guess_open" not in action_ids(script)
    assert cat(bot, "debrief.closer.header") in texts(script)  # still at the stage they reached

    # The client's answer: modal -> loop-back summary -> Confirm.
    click(bot, REP, "loss_log_open")
    log_view = last_modal(bot)
    assert log_view["callback_id"] == "loss_log"
    resp = submit(bot, REP, log_view, LOSS_ANSWERS)
    assert not (resp.json() or {}).get("response_action")
    summary = find_message(bot, REP, "log_confirm")
    assert cat(bot, "log.loop_question") in texts(summary)
    assert LOSS_ANSWERS["gap"] in texts(summary)
    [run] = runs(bot, "loss_debrief")
    assert run.state != "logged" and run.data["draft"] == LOSS_ANSWERS

    click(bot, REP, "log_confirm")
    [run] = runs(bot, "loss_debrief")
    assert run.state == "logged"
    assert run.data["client"] == LOSS_ANSWERS and "draft" not in run.data
    saved = find_message(bot, REP, "concern_open")
    # The private coaching signal: their guess next to the client's reason.
    assert "Our price was too high" in texts(saved)
    assert LOSS_ANSWERS["reason"] in texts(saved)
    assert saved["ts"] == summary["ts"]  # the summary became the saved state in place
    assert_all_block_kit_valid(bot)


def test_answers_can_be_edited_after_saving(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_log_open")
    submit(bot, REP, last_modal(bot), LOSS_ANSWERS)
    click(bot, REP, "log_confirm")
    click(bot, REP, "log_edit")
    view = last_modal(bot)
    reason_block = next(b for b in view["blocks"] if b.get("block_id") == "reason")
    assert reason_block["element"]["initial_value"] == LOSS_ANSWERS["reason"]
    changed = {**LOSS_ANSWERS, "reason": "Their CFO froze the budget"}
    submit(bot, REP, view, changed)
    click(bot, REP, "log_confirm")
    [run] = runs(bot, "loss_debrief")
    assert run.data["client"]["reason"] == "Their CFO froze the budget"
    # No guess was written: the saved message says why to write one next time.
    assert cat(bot, "log.no_guess") in texts(find_message(bot, REP, "log_edit"))


@pytest.mark.parametrize("blank", ["reason", "missed", "takeaways"])
def test_empty_required_field_returns_a_field_error_and_saves_nothing(
    bot: RunningBot, blank: str
) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_log_open")
    resp = submit(bot, REP, last_modal(bot), {**LOSS_ANSWERS, blank: "   "})
    body = resp.json()
    assert body["response_action"] == "errors"
    assert body["errors"] == {blank: cat(bot, "errors.required_field")}
    [run] = runs(bot, "loss_debrief")
    assert "draft" not in run.data and run.state != "logged"


def test_empty_guess_returns_a_field_error(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "guess_open")
    body = submit(bot, REP, last_modal(bot), {"guess": ""}).json()
    required = cat(bot, "errors.required_field")
    assert body == {"response_action": "errors", "errors": {"guess": required}}


def test_a_button_on_a_deal_that_no_longer_exists_says_so(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    with Session(bot.rt.engine) as s:  # e.g. after `/loop forget-me` or an admin's cleanup
        for model in (Nudge, RitualRun, Deal):
            for row in s.exec(select(model)).all():
                s.delete(row)
            s.commit()
    for action in ("loss_mode_heard", "manager_call_request", "loss_mode_helped"):
        click(bot, REP, action)
    replies = ephemeral_replies(bot)
    assert replies == [cat(bot, "errors.deal_gone")] * 3
    assert "/loop deal" in replies[0]  # says what to do instead
    assert bot.standin.calls_to("views.open") == []


def test_hugged_rep_can_let_their_manager_know(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_hugged")
    click(bot, REP, "loss_tell_manager")
    assert ephemeral_replies(bot) == [cat(bot, "manager.none_set")]
    set_manager(bot, REP, MANAGER)
    click(bot, REP, "loss_tell_manager")
    [note] = dm_messages(bot, MANAGER)
    assert "Globex" in note["text"] and f"<@{REP}>" in note["text"]
    assert ephemeral_replies(bot)[-1] == cat(bot, "mode.manager_told", manager=f"<@{MANAGER}>")


def test_unlogged_debrief_gets_one_reminder_then_the_manager_is_told_once(
    bot: RunningBot, clock: FakeClock
) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    days = bot.rt.settings.debrief_reminder_days
    clock.advance(timedelta(days=days) - timedelta(minutes=1))
    bot.tick()
    assert len(dm_messages(bot, REP)) == 1
    clock.advance(timedelta(minutes=2))
    bot.tick()
    reminder = dm_messages(bot, REP)[-1]
    assert "loss_log_open" in action_ids(reminder) and "Globex" in reminder["text"]
    clock.advance(timedelta(days=days, minutes=1))
    bot.tick()
    [note] = [m for m in dm_messages(bot, MANAGER) if "Globex" in m["text"]]
    assert f"<@{REP}>" in texts(note)
    # One row each (idempotency keys per deal), so neither can ever be sent twice.
    assert [n.state for n in nudges_of(bot, "debrief_reminder")] == ["sent"]
    assert [n.state for n in nudges_of(bot, "debrief_manager_note")] == ["sent"]


def test_logged_debrief_skips_its_reminder(bot: RunningBot, clock: FakeClock) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_log_open")
    submit(bot, REP, last_modal(bot), LOSS_ANSWERS)
    click(bot, REP, "log_confirm")
    before = len(dm_messages(bot, REP))
    clock.advance(timedelta(days=bot.rt.settings.debrief_reminder_days + 1))
    bot.tick()
    assert len(dm_messages(bot, REP)) == before
    [reminder] = nudges_of(bot, "debrief_reminder")
    assert reminder.state == "skipped"


def test_tee_up_agreement_shows_a_note_in_the_loss_dm(bot: RunningBot) -> None:
    with Session(bot.rt.engine) as s:
        s.add(
            RitualRun(
                team_id=bot.slack.team_id,
                ritual="tee_up",
                user_slack_id=REP,
                account="GLOBEX",
                state="done",
                data={"agreed": True},
            )
        )
        s.commit()
    close_deal(bot, "lost", "Globex", REP)
    [dm] = dm_messages(bot, REP)
    note = cat(bot, "teeup.debrief_note", account="Globex")
    assert note[:60] in texts(dm).replace("\\n", "\n")


def test_loop_debrief_brings_back_the_script_for_a_lost_deal(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex Corp", REP)
    resp = bot.send(bot.slack.slash_command("debrief globex corp", user=REP))
    assert resp.status == 200
    script = dm_messages(bot, REP)[-1]
    assert cat(bot, "debrief.opener.header") in texts(script)
    assert "guess_open" in action_ids(script)


def test_loop_debrief_opens_the_win_log_for_a_won_deal(bot: RunningBot) -> None:
    close_deal(bot, "won", "Initech", REP)
    bot.send(bot.slack.slash_command("debrief Initech", user=REP))
    assert last_modal(bot)["callback_id"] == "win_log"


@pytest.mark.parametrize("args, key", [("", "debrief.usage"), ("Nobody Inc", "debrief.not_found")])
def test_loop_debrief_errors_say_what_to_type(bot: RunningBot, args: str, key: str) -> None:
    body = bot.send(bot.slack.slash_command(f"debrief {args}".strip(), user=REP)).json()
    assert body["response_type"] == "ephemeral"
    assert body["text"] == cat(bot, key, account="Nobody Inc")
    assert "/loop" in body["text"]


def test_no_decision_debrief_asks_what_would_have_made_it_worth_doing(bot: RunningBot) -> None:
    close_deal(bot, "no_decision", "Hooli", REP)
    [dm] = dm_messages(bot, REP)
    assert cat(bot, "no_decision.header", account="Hooli") in texts(dm)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "debrief_next")
    exchange = find_message(bot, REP, "debrief_next")
    worth_doing = cat(bot, "no_decision.script.exchange_line3")[:40]
    assert worth_doing in texts(exchange).replace('\\"', '"')


def test_loop_back_of_the_longest_answers_drops_none_of_them(bot: RunningBot) -> None:
    """Six answers at Slack's 2,000-character input limit do not fit one section; the
    summary must still say every one of them back before the rep confirms."""
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_log_open")
    log_view = last_modal(bot)
    long_answers = {
        name: (name[0].upper() + " ") * 999 + name.upper()
        for name in ("reason", "missed", "needs", "solution", "gap", "takeaways")
    }
    submit(bot, REP, log_view, long_answers)
    summary = texts(find_message(bot, REP, "log_confirm"))
    for name in long_answers:
        assert name.upper() in summary, f"{name} was cut from the loop-back"


def _summaries(bot: RunningBot, user: str) -> list[dict[str, object]]:
    return [m for m in dm_messages(bot, user) if "log_confirm" in action_ids(m)]


def _click_on(bot: RunningBot, user: str, action_id: str, message: dict[str, object]) -> None:
    request = bot.slack.block_action(
        action_id, user=user, channel=bot.standin.dm_channel(user), message=dict(message)
    )
    assert bot.send(request).status == 200


def test_confirm_on_an_older_summary_saves_nothing_and_points_to_the_newest(
    bot: RunningBot,
) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_log_open")
    submit(bot, REP, last_modal(bot), LOSS_ANSWERS)
    click(bot, REP, "log_edit")  # from the first summary
    changed = {**LOSS_ANSWERS, "reason": "Their CFO froze the budget"}
    submit(bot, REP, last_modal(bot), changed)
    first, newest = _summaries(bot, REP)

    _click_on(bot, REP, "log_confirm", first)
    assert ephemeral_replies(bot) == [cat(bot, "log.newer_version")]
    [run] = runs(bot, "loss_debrief")
    assert run.state != "logged" and run.data["draft"] == changed

    _click_on(bot, REP, "log_confirm", newest)
    [run] = runs(bot, "loss_debrief")
    assert run.state == "logged" and run.data["client"] == changed
    # Still there in the DM, the older summary can't overwrite what was saved either.
    _click_on(bot, REP, "log_confirm", first)
    assert ephemeral_replies(bot)[-1] == cat(bot, "log.newer_version")
    [run] = runs(bot, "loss_debrief")
    assert run.data["client"] == changed
    assert_all_block_kit_valid(bot)


def test_a_summary_button_without_a_revision_still_confirms(bot: RunningBot) -> None:
    """Summaries posted before the buttons carried a draft revision keep working."""
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "loss_log_open")
    submit(bot, REP, last_modal(bot), LOSS_ANSWERS)
    [run] = runs(bot, "loss_debrief")
    click(bot, REP, "log_confirm", value=f"{run.deal_id}:rep")
    [run] = runs(bot, "loss_debrief")
    assert run.state == "logged" and run.data["client"] == LOSS_ANSWERS
    assert ephemeral_replies(bot) == []
