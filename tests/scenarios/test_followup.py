"""Follow it up: a week after a logged debrief (win or loss), the rep gets "You planned to
<takeaway>. Done?" [Done] [Still on it] [Drop]. The DM is a nudge row; the click records
the answer once, only the rep's own click counts, and the message shows the choice.
"Still on it" asks once more a week later, and that is the last time."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.devkit.standin import SlackStandIn
from storage.models import Nudge
from tests.conftest import MANAGER, REP, REP2, RunningBot
from tests.scenarios.test_debrief_languages import english_leftovers, everything_sent_to
from tests.support.debrief_steps import (
    LOSS_ANSWERS,
    assert_all_block_kit_valid,
    click,
    close_deal,
    dm_messages,
    ephemeral_replies,
    find_message,
    last_modal,
    runs,
    set_manager,
    submit,
)

REP_FR = "U0REP3"
REPS = {"en": REP, "es": REP2, "fr": REP_FR}
TAKEAWAYS = "Ask for the go-live date in the first meeting\nBring a rollout plan to the demo"


@pytest.fixture(autouse=True)
def _french_rep(standin: SlackStandIn) -> None:
    standin.add_user(
        REP_FR, name="fanny", real_name="Fanny Vendeuse", tz="Europe/Paris", locale="fr-FR"
    )


def cat(bot: RunningBot, lang: str, key: str, **values: str) -> str:
    return bot.rt.catalog.text(lang, key, **values)


def log_loss(bot: RunningBot, rep: str, account: str = "Globex") -> None:
    close_deal(bot, "lost", account, rep)
    click(bot, rep, "loss_mode_helped")
    click(bot, rep, "loss_log_open")
    submit(bot, rep, last_modal(bot), {**LOSS_ANSWERS, "takeaways": TAKEAWAYS})
    click(bot, rep, "log_confirm")


def week_passes(bot: RunningBot, days: float = 7.01) -> None:
    bot.rt.clock.advance(timedelta(days=days))  # type: ignore[attr-defined]
    bot.tick()
    bot.tick()  # the planner adds the row on one tick; a due row goes out on the next


def followups(bot: RunningBot, user: str) -> list[dict[str, object]]:
    return [m for m in dm_messages(bot, user) if "followup_done" in json.dumps(m)]


def followup_rows(bot: RunningBot) -> list[Nudge]:
    with Session(bot.rt.engine) as s:
        return list(
            s.exec(select(Nudge).where(Nudge.kind == "takeaway_followup").order_by(Nudge.id)).all()
        )


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_a_week_after_a_logged_loss_the_rep_is_asked_and_done_closes_it(
    bot: RunningBot, lang: str
) -> None:
    rep = REPS[lang]
    log_loss(bot, rep)
    week_passes(bot, days=6)
    assert followups(bot, rep) == []  # not before the week is out
    week_passes(bot, days=1.01)
    [ask] = followups(bot, rep)
    shown = json.dumps(ask, ensure_ascii=False)
    assert "Ask for the go-live date in the first meeting" in shown
    assert "Bring a rollout plan to the demo" in shown
    assert cat(bot, lang, "followup.button_still") in shown
    [row] = followup_rows(bot)
    assert row.state == "sent" and row.user_slack_id == rep

    click(bot, rep, "followup_done")
    [answered] = [m for m in dm_messages(bot, rep) if m.get("ts") == ask.get("ts")]
    after = json.dumps(answered, ensure_ascii=False)
    assert "followup_done" not in after  # chat.update replaced the buttons
    assert cat(bot, lang, "clicks.chosen", choice=cat(bot, lang, "followup.button_done")) in after
    assert cat(bot, lang, "followup.reply_done", account="Globex") in after
    [run] = runs(bot, "loss_debrief")
    assert run.data["followup"]["answer"] == "done"
    week_passes(bot)
    assert len(followup_rows(bot)) == 1  # done means done
    if lang != "en":
        assert english_leftovers(bot, lang, everything_sent_to(bot, rep)) == []
    assert_all_block_kit_valid(bot)


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_still_on_it_asks_once_more_then_stops(bot: RunningBot, lang: str) -> None:
    rep = REPS[lang]
    log_loss(bot, rep)
    week_passes(bot)
    click(bot, rep, "followup_still")
    first = json.dumps(dm_messages(bot, rep)[-1], ensure_ascii=False)
    assert cat(bot, lang, "followup.reply_still", days="7") in first
    week_passes(bot)
    asks = followups(bot, rep)
    assert len(asks) == 1  # the first one shows its answer; this is the second ask
    again = json.dumps(asks[0], ensure_ascii=False)
    assert cat(bot, lang, "followup.dm_again", account="Globex", takeaways="")[:25] in again
    click(bot, rep, "followup_still")
    last = json.dumps(dm_messages(bot, rep)[-1], ensure_ascii=False)
    assert cat(bot, lang, "followup.reply_still_last") in last
    week_passes(bot)
    week_passes(bot)
    assert followups(bot, rep) == []
    assert [n.payload["round"] for n in followup_rows(bot)] == [1, 2]


def test_a_second_click_changes_nothing(bot: RunningBot) -> None:
    log_loss(bot, REP)
    week_passes(bot)
    message = find_message(bot, REP, "followup_drop")
    channel = bot.standin.dm_channel(REP)
    for action in ("followup_drop", "followup_done"):  # both from the message as it was
        request = bot.slack.block_action(action, user=REP, channel=channel, message=message)
        assert bot.send(request).status == 200
    bot.idle()
    [run] = runs(bot, "loss_debrief")
    assert run.data["followup"]["answer"] == "drop"
    shown = json.dumps(dm_messages(bot, REP)[-1], ensure_ascii=False)
    assert cat(bot, "en", "followup.reply_drop", account="Globex") in shown
    week_passes(bot)
    assert len(followup_rows(bot)) == 1


def test_only_the_rep_may_answer(bot: RunningBot) -> None:
    log_loss(bot, REP)
    week_passes(bot)
    message = find_message(bot, REP, "followup_done")
    forged = bot.slack.block_action(
        "followup_done",
        user=REP2,
        channel=bot.standin.dm_channel(REP),
        message=message,
    )
    assert bot.send(forged).status == 200
    bot.idle()
    # REP2 reads Spanish: the refusal is in their language, and nothing changed.
    assert cat(bot, "es", "privacy.not_yours") in ephemeral_replies(bot)
    [row] = followup_rows(bot)
    assert "answer" not in row.payload
    assert "followup_done" in json.dumps(find_message(bot, REP, "followup_done"))


def test_a_logged_win_follows_up_on_what_appealed_most(bot: RunningBot) -> None:
    close_deal(bot, "won", "Initech", REP)
    click(bot, REP, "win_log_open")
    submit(
        bot,
        REP,
        last_modal(bot),
        {"why": "Fast onboarding", "appealed": "A named support engineer from day one"},
    )
    week_passes(bot)
    [ask] = followups(bot, REP)
    shown = json.dumps(ask, ensure_ascii=False)
    assert "A named support engineer from day one" in shown
    assert cat(bot, "en", "followup.dm_win", account="Initech", takeaways="")[:30] in shown


def test_no_follow_up_without_a_logged_debrief(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)  # never logged
    week_passes(bot)
    week_passes(bot)
    assert followup_rows(bot) == []


def test_a_debrief_logged_by_the_managers_call_is_not_the_reps_plan(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "manager_call_request")
    bot.tick()
    # The call is the manager's; the rep planned nothing, so nobody is asked "Done?".
    week_passes(bot)
    assert followups(bot, REP) == [] and followups(bot, MANAGER) == []


def test_a_debrief_logged_long_before_is_not_asked_about_out_of_the_blue(
    bot: RunningBot,
) -> None:
    """A debrief logged weeks before the planner first saw it (the bot was down, or it was
    logged before follow-ups existed) gets no surprise question."""
    log_loss(bot, REP)
    bot.rt.clock.advance(timedelta(days=20))  # type: ignore[attr-defined]
    bot.tick()
    bot.tick()
    assert followup_rows(bot) == []


def test_a_follow_up_due_with_a_check_in_shares_one_dm_and_answers_its_own_section(
    bot: RunningBot,
) -> None:
    """The noise budget gathers what falls due in the same hour; answering the follow-up
    changes its own section, and the check-in beside it keeps its buttons."""
    log_loss(bot, REP)
    bot.rt.clock.advance(timedelta(days=5))  # type: ignore[attr-defined]
    bot.send(bot.slack.slash_command("concern Globex — worried about the rollout", user=REP))
    before = len(dm_messages(bot, REP))
    week_passes(bot, days=2.01)
    new = dm_messages(bot, REP)[before:]
    [bundle] = [m for m in new if "followup_done" in json.dumps(m)]
    assert "concern_satisfied" in json.dumps(bundle)  # one DM, both asks
    click(bot, REP, "followup_done")
    [after] = [m for m in dm_messages(bot, REP) if m.get("ts") == bundle.get("ts")]
    shown = json.dumps(after, ensure_ascii=False)
    assert "followup_done" not in shown and "concern_satisfied" in shown
    assert cat(bot, "en", "followup.reply_done", account="Globex") in shown
    assert_all_block_kit_valid(bot)
