"""Lesson -> applied -> story, with credit (seed 004). A rep keeps a takeaway of a logged
debrief, a manager's call or a win interview as a lesson, private or shared; a week later
"Did you get to try it?" (Yes opens the story modal with the lesson picked; Not yet asks
once more; Drop it ends it); a story that applies a teammate's shared lesson credits them
in the thread and tells them, once. Private lessons stay private: another rep cannot
pick one, even with a forged id, and prep shows only shared ones.

Signed HTTP to the real app and the Slack stand-in; time is the injected clock. Rita (en),
Sam (es) and Fleur (fr) are the reps of tests/conftest.py and the stories fixture."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.devkit.requests import plain_text_value, static_select_value
from bot.devkit.standin import check_view
from bot.slack import ids
from storage.models import Lesson, Nudge, Story
from tests.conftest import MANAGER, REP, REP2, RunningBot
from tests.scenarios import test_stories
from tests.scenarios.test_stories import at, know, modal, rows, stories_in, utc
from tests.support.debrief_steps import (
    CALL_ANSWERS,
    LOSS_ANSWERS,
    action_ids,
    click,
    close_deal,
    dm_messages,
    find_message,
    last_modal,
    log_the_call,
    set_manager,
    submit,
    texts,
)

FLEUR = "U0FR"
START = utc(2026, 12, 2, 15)  # a Wednesday
TAKEAWAYS = {
    REP: "- Ask for the go-live date in the first meeting\n- Bring the CFO in earlier",
    REP2: "1. Preguntar la fecha de puesta en marcha\n2. Hablar antes con el director financiero",
    FLEUR: "• Demander la date de mise en service\n• Impliquer le DAF plus tôt",
}
LANG = {REP: "en", REP2: "es", FLEUR: "fr"}
# The stories tests' bot: a stories channel, in a Madrid workspace, with Fleur (fr).
sbot = test_stories.sbot


def cat(bot: RunningBot, lang: str, key: str, **values: Any) -> str:
    return bot.rt.catalog.text(lang, key, **values)


def log_loss(bot: RunningBot, user: str, account: str, takeaways: str) -> None:
    close_deal(bot, "lost", account, user)
    click(bot, user, "loss_mode_helped")
    click(bot, user, "loss_log_open")
    submit(bot, user, last_modal(bot), {**LOSS_ANSWERS, "takeaways": takeaways})
    click(bot, user, "log_confirm")


def keep_values(*, pick: int | None = 0, text: str | None = None, team: bool) -> dict[str, Any]:
    share = "team" if team else "private"
    return {
        ids.LESSON_PICK_FIELD: {"v": static_select_value(None if pick is None else str(pick))},
        ids.LESSON_TEXT_FIELD: {"v": plain_text_value(text)},
        ids.LESSON_SHARE_FIELD: {
            "v": {
                "type": "radio_buttons",
                "selected_option": {"text": {"type": "plain_text", "text": share}, "value": share},
            }
        },
    }


def keep(
    bot: RunningBot, user: str, *, pick: int | None = 0, text: str | None = None, team: bool
) -> dict[str, Any]:
    """Click "Keep a lesson" under the latest summary, submit the modal; the modal."""
    opened = len(bot.standin.calls_to("views.open", ok=True))
    click(bot, user, ids.LESSON_KEEP)
    assert len(bot.standin.calls_to("views.open", ok=True)) == opened + 1
    view = last_modal(bot)
    assert check_view(view) == []
    resp = send_keep(bot, user, view, keep_values(pick=pick, text=text, team=team))
    assert resp == {}, resp
    return view


def send_keep(
    bot: RunningBot, user: str, view: dict[str, Any], values: dict[str, Any]
) -> dict[str, Any]:
    result = bot.send(
        bot.slack.view_submission(
            view["callback_id"],
            values,
            user=user,
            private_metadata=view.get("private_metadata", ""),
            blocks=view.get("blocks"),
        )
    )
    assert result.status == 200
    return result.json() if result.body.startswith("{") else {}


def lessons(bot: RunningBot) -> list[Lesson]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Lesson).order_by(Lesson.id)).all())  # type: ignore[arg-type]


def asks(bot: RunningBot, kind: str = "lesson_try") -> list[Nudge]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Nudge).where(Nudge.kind == kind).order_by(Nudge.id)).all())  # type: ignore[arg-type]


def last_dm_text(bot: RunningBot, user: str) -> str:
    return texts(dm_messages(bot, user)[-1])


def picker_options(view: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    [block] = [b for b in view["blocks"] if b.get("block_id") == ids.STORY_LESSON_PICK]
    return {
        g["label"]["text"]: [(o["text"]["text"], o["value"]) for o in g["options"]]
        for g in block["element"]["option_groups"]
    }


def submit_with_pick(
    bot: RunningBot, user: str, view: dict[str, Any], lesson_id: int | str, **answers: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "lesson": {"v": plain_text_value(answers.get("lesson"))},
        "did": {"v": plain_text_value(answers.get("did", "Lo pregunté en la primera reunión"))},
        "happened": {"v": plain_text_value(answers.get("happened", "Nos dieron la fecha"))},
        ids.STORY_LESSON_PICK: {"v": static_select_value(str(lesson_id))},
    }
    return send_keep(bot, user, view, values)


# --- the whole loop ----------------------------------------------------------------------------


@pytest.mark.parametrize("owner", [REP, REP2, FLEUR])
def test_a_shared_lesson_is_asked_about_applied_by_a_teammate_and_credited(
    sbot: RunningBot, owner: str
) -> None:
    """The owner keeps a shared lesson; a week later says Yes and tells their own story
    (no credit line: it is theirs); a teammate picks it for a story, which credits the
    owner in the thread; the owner is told once, in their language, with the link."""
    know(sbot, REP, REP2, FLEUR, MANAGER)
    at(sbot, START)
    lang = LANG[owner]
    log_loss(sbot, owner, "Globex", TAKEAWAYS[owner])
    summary = find_message(sbot, owner, ids.LESSON_KEEP)
    assert cat(sbot, lang, "lessons.button_keep") in texts(summary)
    view = keep(sbot, owner, pick=1, team=True)
    assert cat(sbot, lang, "lessons.keep_intro", account="Globex") in json.dumps(
        view, ensure_ascii=False
    )
    second = TAKEAWAYS[owner].splitlines()[1].split(" ", 1)[1]
    [kept] = lessons(sbot)
    assert (kept.owner_slack_id, kept.text, kept.shared, kept.source, kept.account) == (
        owner,
        second,
        True,
        "debrief",
        "Globex",
    )
    assert cat(sbot, lang, "lessons.kept_team", lesson=second) in last_dm_text(sbot, owner)

    # A week later, not before: "Did you get to try it?"
    at(sbot, START + timedelta(days=6))
    assert not any(ids.LESSON_TRY_YES in action_ids(m) for m in dm_messages(sbot, owner))
    at(sbot, START + timedelta(days=7, hours=1))
    ask = find_message(sbot, owner, ids.LESSON_TRY_YES)
    assert second in texts(ask) and "Globex" in texts(ask)
    assert cat(sbot, lang, "lessons.button_yes") in texts(ask)

    # Yes: the story modal opens with the lesson picked and written.
    click(sbot, owner, ids.LESSON_TRY_YES)
    story_view = modal(sbot)
    [pick] = [b for b in story_view["blocks"] if b.get("block_id") == ids.STORY_LESSON_PICK]
    assert pick["element"]["initial_option"]["value"] == str(kept.id)
    [lesson_field] = [b for b in story_view["blocks"] if b.get("block_id") == "lesson"]
    assert lesson_field["element"]["initial_value"] == second
    assert lessons(sbot)[0].state == "tried"
    [answered] = [m for m in dm_messages(sbot, owner) if m["ts"] == ask["ts"]]
    assert cat(sbot, lang, "lessons.reply_yes") in texts(answered)  # redrawn in place
    assert ids.LESSON_TRY_YES not in action_ids(answered)
    submit_with_pick(sbot, owner, story_view, kept.id, lesson=second)
    [own_story] = stories_in(sbot)
    assert ":handshake:" not in texts(own_story)  # their own lesson: no credit line

    # A teammate picks it from "Shared by teammates" and leaves the lesson field empty.
    teammate = REP if owner != REP else REP2
    assert sbot.send(sbot.slack.slash_command("story", user=teammate)).status == 200
    view = modal(sbot)
    groups = picker_options(view)
    team_group = cat(sbot, LANG[teammate], "lessons.group_team")
    assert [value for _text, value in groups[team_group]] == [str(kept.id)]
    assert submit_with_pick(sbot, teammate, view, kept.id) == {}
    _, credited = stories_in(sbot)
    # In the channel's language (English here), naming the owner, the source and account.
    credit = cat(
        sbot, "en", "lessons.credit_line", owner=f"<@{owner}>", source="debrief", account="Globex"
    )
    assert credit in texts(credited)
    story = rows(sbot)[-1]
    assert (story.rep_slack_id, story.lesson_id, story.lesson) == (teammate, kept.id, second)

    # The owner is told, once, in their own language, with the link (within the noise
    # budget: the hour after "Did you get to try it?").
    at(sbot, START + timedelta(days=7, hours=2, minutes=5))
    assert story.permalink
    [told] = [m for m in dm_messages(sbot, owner) if story.permalink in texts(m)]
    said = cat(
        sbot,
        lang,
        "lessons.credit_dm",
        author=f"<@{teammate}>",
        lesson=second,
        source=cat(sbot, lang, "lessons.source_debrief"),
        account="Globex",
    )
    assert json.dumps(said, ensure_ascii=False)[1:-1] in texts(told)
    # An edit of the story tells nobody again.
    assert (
        sbot.send(
            sbot.slack.block_action(
                ids.STORY_EDIT, user=teammate, channel="C0STORIES", message=credited
            )
        ).status
        == 200
    )
    submit_with_pick(sbot, teammate, modal(sbot), kept.id, happened="Edited")
    at(sbot, START + timedelta(days=7, hours=4))
    assert len(asks(sbot, "lesson_credit")) == 1
    assert len([m for m in dm_messages(sbot, owner) if story.permalink in texts(m)]) == 1


# --- private stays private -----------------------------------------------------------------------


def home_text(bot: RunningBot, user: str) -> str:
    event = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user[1:],
        "tab": "home",
        "event_ts": "1700000000.000100",
    }
    before = len(bot.standin.calls_to("views.publish"))
    assert bot.send(bot.slack.event_request(event)).status == 200
    calls = [c for c in bot.standin.calls_to("views.publish")[before:] if c.body["user_id"] == user]
    assert check_view(calls[-1].body["view"]) == []
    return json.dumps(calls[-1].body["view"], ensure_ascii=False)


def test_a_private_lesson_is_seen_by_its_owner_alone(sbot: RunningBot) -> None:
    """Fleur keeps a private lesson, Rita a shared one. Sam's story modal and prep list
    Rita's, never Fleur's; a forged pick of Fleur's id is refused and nothing is posted;
    each rep's App Home lists their own lessons only."""
    know(sbot, REP, REP2, FLEUR, MANAGER)
    at(sbot, START)
    log_loss(sbot, FLEUR, "Globex", TAKEAWAYS[FLEUR])
    keep(sbot, FLEUR, pick=0, team=False)
    log_loss(sbot, REP, "Initech", TAKEAWAYS[REP])
    keep(sbot, REP, pick=None, text="Name the decision date out loud", team=True)
    fleurs, ritas = lessons(sbot)
    assert (fleurs.shared, ritas.shared, ritas.text) == (
        False,
        True,
        "Name the decision date out loud",
    )
    assert cat(sbot, "fr", "lessons.kept_private", lesson=fleurs.text) in last_dm_text(sbot, FLEUR)

    assert sbot.send(sbot.slack.slash_command("story", user=REP2)).status == 200
    view = modal(sbot)
    listed = [value for group in picker_options(view).values() for _text, value in group]
    assert listed == [str(ritas.id)]
    answer = submit_with_pick(sbot, REP2, view, fleurs.id, lesson="Robado")
    assert answer["response_action"] == "errors"
    assert ids.STORY_LESSON_PICK in answer["errors"]
    for forged in ("99999", "abc"):
        answer = submit_with_pick(sbot, REP2, view, forged, lesson="Robado")
        assert answer["response_action"] == "errors", forged
    assert rows(sbot) == []

    # Prep for a similar spot (a loss, like Sam's own on the account) lists the shared one.
    close_deal(sbot, "lost", "Hooli", REP2)
    body = sbot.send(sbot.slack.slash_command("prep Hooli", user=REP2)).json()
    shown = json.dumps(body["blocks"], ensure_ascii=False)
    assert cat(sbot, "es", "lessons.prep_header") in shown
    assert "Name the decision date out loud" in shown and fleurs.text not in shown
    # Nobody sees their own shared lesson as "from a teammate".
    body = sbot.send(sbot.slack.slash_command("prep Initech", user=REP)).json()
    assert cat(sbot, "en", "lessons.prep_header") not in json.dumps(body["blocks"])

    assert fleurs.text in home_text(sbot, FLEUR) and ritas.text not in home_text(sbot, FLEUR)
    rita_home = home_text(sbot, REP)
    assert ritas.text in rita_home and fleurs.text not in rita_home
    assert cat(sbot, "en", "lessons.mark_team") in rita_home
    sam_home = home_text(sbot, REP2)
    assert ritas.text not in sam_home and fleurs.text not in sam_home
    manager_home = home_text(sbot, MANAGER)
    assert ritas.text not in manager_home and fleurs.text not in manager_home


# --- the ask: not yet, drop, second clicks ----------------------------------------------


def test_not_yet_asks_once_more_then_stops_and_drop_ends_it(sbot: RunningBot) -> None:
    know(sbot, REP, REP2, MANAGER)
    at(sbot, START)
    log_loss(sbot, REP, "Globex", TAKEAWAYS[REP])
    keep(sbot, REP, pick=0, team=False)
    at(sbot, START + timedelta(hours=3))
    keep(sbot, REP, pick=1, team=False)
    first, second = lessons(sbot)
    assert len(asks(sbot)) == 2

    at(sbot, START + timedelta(days=7, hours=1))
    at(sbot, START + timedelta(days=7, hours=4))
    tried = [m for m in dm_messages(sbot, REP) if ids.LESSON_TRY_NOT_YET in action_ids(m)]
    assert len(tried) == 2
    by_lesson = {first.text: tried[0], second.text: tried[1]}
    assert first.text in texts(by_lesson[first.text])

    def press(message: dict[str, Any], action: str) -> None:
        request = sbot.slack.block_action(
            action, user=REP, channel=sbot.standin.dm_channel(REP), message=message
        )
        assert sbot.send(request).status == 200

    press(by_lesson[first.text], ids.LESSON_TRY_NOT_YET)
    press(by_lesson[first.text], ids.LESSON_TRY_DROP)  # a stale second button: no change
    press(by_lesson[second.text], ids.LESSON_TRY_DROP)
    states = {lesson.text: lesson.state for lesson in lessons(sbot)}
    assert states == {first.text: "open", second.text: "dropped"}
    redrawn = {m["ts"]: m for m in dm_messages(sbot, REP)}[by_lesson[first.text]["ts"]]
    assert cat(sbot, "en", "lessons.reply_not_yet", days=7) in texts(redrawn)

    # A week later, the last ask about the first lesson; "Not yet" again ends the asking.
    at(sbot, START + timedelta(days=14, hours=4))
    last = find_message(sbot, REP, ids.LESSON_TRY_NOT_YET)
    assert first.text in texts(last) and second.text not in texts(last)
    assert cat(sbot, "en", "lessons.try_again", lesson=first.text, where="").split("*")[1] in texts(
        last
    )
    press(last, ids.LESSON_TRY_NOT_YET)
    redrawn = {m["ts"]: m for m in dm_messages(sbot, REP)}[last["ts"]]
    assert cat(sbot, "en", "lessons.reply_not_yet_last") in texts(redrawn)
    at(sbot, START + timedelta(days=30))
    assert len(asks(sbot)) == 3
    # The dropped lesson no longer shows in App Home; the open one does.
    home = home_text(sbot, REP)
    assert first.text in home and second.text not in home


def test_keeping_the_same_lesson_twice_is_one_lesson_and_one_ask(sbot: RunningBot) -> None:
    know(sbot, REP, MANAGER)
    at(sbot, START)
    log_loss(sbot, REP, "Globex", TAKEAWAYS[REP])
    keep(sbot, REP, pick=0, team=False)
    keep(sbot, REP, pick=0, team=True)  # the second submit changes who sees it
    [row] = lessons(sbot)
    assert row.shared is True
    assert len(asks(sbot)) == 1
    assert cat(sbot, "en", "lessons.kept_ask", days=7) not in last_dm_text(sbot, REP)
    # Neither a pick nor words: the modal says what to do instead and keeps nothing.
    click(sbot, REP, ids.LESSON_KEEP)
    answer = send_keep(sbot, REP, last_modal(sbot), keep_values(pick=None, text=None, team=True))
    assert answer["response_action"] == "errors"
    assert answer["errors"][ids.LESSON_TEXT_FIELD] == cat(sbot, "en", "lessons.error_empty")
    assert len(lessons(sbot)) == 1


# --- other sources: the manager's call and the win interview ------------------------------------


def test_a_lesson_from_the_managers_call_and_from_a_win(sbot: RunningBot) -> None:
    know(sbot, REP, MANAGER)
    set_manager(sbot, REP, MANAGER)
    at(sbot, START)
    close_deal(sbot, "lost", "Globex", REP)
    click(sbot, REP, "loss_mode_helped")
    click(sbot, REP, "manager_call_request")
    log_the_call(sbot, MANAGER)
    sbot.tick()
    result = find_message(sbot, REP, ids.LESSON_KEEP)
    assert CALL_ANSWERS["next"] in texts(result)
    view = keep(sbot, REP, pick=0, team=True)
    options = [
        o["text"]["text"]
        for b in view["blocks"]
        if b.get("block_id") == ids.LESSON_PICK_FIELD
        for o in b["element"]["options"]
    ]
    assert CALL_ANSWERS["missed"] in options
    [from_call] = lessons(sbot)
    assert (from_call.source, from_call.text) == ("call", CALL_ANSWERS["missed"])
    # The manager cannot keep the rep's lesson from the same deal.
    request = sbot.slack.block_action(
        ids.LESSON_KEEP, user=MANAGER, channel=sbot.standin.dm_channel(REP), message=result
    )
    assert sbot.send(request).status == 200
    assert len(lessons(sbot)) == 1

    close_deal(sbot, "won", "Acme", REP)
    click(sbot, REP, "win_log_open")
    submit(
        sbot,
        REP,
        last_modal(sbot),
        {"why": "Our onboarding plan", "appealed": "A named success manager"},
    )
    keep(sbot, REP, pick=0, team=False)
    from_win = lessons(sbot)[-1]
    assert (from_win.source, from_win.account) == ("win", "Acme")
    assert from_win.text in ("A named success manager", "Our onboarding plan")


# --- forget-me and the monthly post ----------------------------------------------------------


def test_forget_me_removes_the_lessons_and_the_link_not_the_teammates_story(
    sbot: RunningBot,
) -> None:
    know(sbot, REP, REP2, MANAGER)
    at(sbot, START)
    log_loss(sbot, REP, "Globex", TAKEAWAYS[REP])
    keep(sbot, REP, pick=0, team=True)
    [kept] = lessons(sbot)
    sbot.send(sbot.slack.slash_command("story", user=REP2))
    submit_with_pick(sbot, REP2, modal(sbot), kept.id)
    assert rows(sbot)[0].lesson_id == kept.id
    # The monthly post says whose lesson was applied.
    at(sbot, utc(2027, 1, 1, 9, 5))
    [post] = [
        m for m in sbot.standin.messages("C0STORIES") if "Stories of December 2026" in texts(m)
    ]
    assert cat(sbot, "en", "lessons.month_from", owners=f"<@{REP}>") in texts(post)

    resp = sbot.send(sbot.slack.slash_command("forget-me", user=REP))
    prompt = {"ts": "1.1", "blocks": resp.json()["blocks"]}
    sbot.send(sbot.slack.block_action("forget_me_confirm", user=REP, message=prompt))
    assert lessons(sbot) == []
    [story] = rows(sbot)
    assert (story.rep_slack_id, story.lesson_id, story.lesson) == (REP2, None, kept.text)
    with Session(sbot.rt.engine) as s:
        assert s.exec(select(Story).where(Story.lesson_id == kept.id)).all() == []


def test_the_ask_follows_the_follow_up_delay_an_admin_set_in_app_home(sbot: RunningBot) -> None:
    """FOLLOWUP_DAYS changed in App Home (3 instead of 7) applies to lessons at once."""
    from tests.scenarios.test_admin_settings import open_settings, submit_settings

    know(sbot, REP, MANAGER)
    at(sbot, START)
    assert (
        submit_settings(sbot, open_settings(sbot), **{ids.SETTINGS_FOLLOWUP: {"value": "3"}}) == {}
    )
    log_loss(sbot, REP, "Globex", TAKEAWAYS[REP])
    keep(sbot, REP, pick=0, team=False)
    assert cat(sbot, "en", "lessons.kept_ask", days=3) in last_dm_text(sbot, REP)
    [ask] = asks(sbot)
    assert ask.due_at == START + timedelta(days=3)
    at(sbot, START + timedelta(days=3, hours=1))
    assert TAKEAWAYS[REP].splitlines()[0][2:] in texts(find_message(sbot, REP, ids.LESSON_TRY_YES))
