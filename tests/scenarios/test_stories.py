"""The stories channel (seed 004): one thread a week (Monday 10:00 in the workspace's
zone), stories shared in it from `/loop story`, the thread's button, the invitation after
a win and a reply typed in the thread — each in the thread, never the channel root —
edited and deleted by their author only, the monthly post with the revenue the reps
credit to lessons, and the admin's settings applied without a restart.

Everything goes through signed HTTP to the real app and the Slack stand-in; time is the
injected clock. Slack shapes: the stand-in (chat.postMessage with thread_ts,
reactions.add, chat.getPermalink, conversations.join/list) and the request factory."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.clock import FakeClock
from bot.devkit.requests import number_value, plain_text_value, static_select_value
from bot.devkit.standin import SlackStandIn, check_message_blocks, check_view
from bot.messages.stories import MonthEntry, summarise
from bot.nudges.dispatcher import drain
from bot.nudges.story_schedule import this_week, weeks_to_plan
from bot.slack import ids
from bot.slack.people import load_person
from storage.models import Deal, Nudge, Story
from tests.conftest import ADMIN, DEALS, MANAGER, REP, REP2, BotServer, RunningBot, start_bot
from tests.support.debrief_steps import action_ids, texts

STORIES = "C0STORIES"
NEW_STORIES = "C0STORIES2"
SECRET = "G0SECRET"
TEAM = "T0001"
MADRID = "Europe/Madrid"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def sbot(
    standin: SlackStandIn,
    clock: FakeClock,
    sqlite_url: str,
    sqlite_template: Path,
    bot_server: BotServer,
    transport: str,
) -> Iterator[RunningBot]:
    """A bot whose stories channel is set by name, in a Madrid workspace (over HTTP, or
    Socket Mode where a test asks for it)."""
    shutil.copyfile(sqlite_template, sqlite_url.removeprefix("sqlite:///"))
    standin.add_channel(STORIES, "team-stories")
    standin.add_channel(NEW_STORIES, "wins-and-lessons", is_member=False)
    standin.add_channel(SECRET, "secret-stories", is_private=True, is_member=False)
    standin.add_user(REP2, name="sam", tz=MADRID, locale="es-ES")
    standin.add_user(ADMIN, name="ada", is_admin=True)
    standin.add_user("U0FR", name="fleur", tz="Europe/Paris", locale="fr-FR")
    env = {"STORIES_CHANNEL": "#team-stories", "WORKSPACE_TZ": MADRID}
    running, stop = start_bot(
        standin, clock, sqlite_url, extra_env=env, server=bot_server, transport=transport
    )
    yield running
    stop()


def at(bot: RunningBot, when: datetime) -> None:
    """Move the clock and run the dispatcher there (twice: the planner, then its rows)."""
    assert isinstance(bot.rt.clock, FakeClock)
    bot.rt.clock.set(when)
    bot.tick()
    bot.tick()


def know(bot: RunningBot, *users: str) -> None:
    for user in users:
        bot.run(load_person(bot.rt, team_id=TEAM, user_id=user))


def channel_posts(bot: RunningBot, channel: str = STORIES) -> list[dict[str, Any]]:
    return bot.standin.messages(channel)


def prompts(bot: RunningBot, channel: str = STORIES) -> list[dict[str, Any]]:
    return [m for m in channel_posts(bot, channel) if ids.STORY_SHARE in action_ids(m)]


def stories_in(bot: RunningBot, channel: str = STORIES) -> list[dict[str, Any]]:
    return [m for m in channel_posts(bot, channel) if ids.STORY_EDIT in action_ids(m)]


def rows(bot: RunningBot) -> list[Story]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Story).order_by(Story.id)).all())  # type: ignore[arg-type]


def win(bot: RunningBot, account: str, amount: str, rep: str = REP) -> int:
    event = bot.slack.message_event(
        f"Closed Won: {account} {amount} <@{rep}>", channel=DEALS, user=MANAGER
    )
    assert bot.send(bot.slack.event_request(event)).status == 200
    with Session(bot.rt.engine) as s:
        deal = s.exec(select(Deal).where(Deal.account == account)).one()
        return int(deal.id or 0)


def modal(bot: RunningBot) -> dict[str, Any]:
    view = dict(bot.standin.calls_to("views.open", ok=True)[-1].body["view"])
    assert check_view(view) == []
    return view


def submit_story(
    bot: RunningBot,
    user: str,
    view: dict[str, Any],
    *,
    lesson: str | None = "Ask for the go-live date in the first meeting",
    did: str | None = "I asked Globex when they needed to be live",
    happened: str | None = "They told us about the spring deadline; we planned for it",
    deal: int | str | None = None,
    share: int | str | None = None,
) -> dict[str, Any]:
    values: dict[str, dict[str, dict[str, Any]]] = {
        "lesson": {"v": plain_text_value(lesson)},
        "did": {"v": plain_text_value(did)},
        "happened": {"v": plain_text_value(happened)},
    }
    if any(b.get("block_id") == "deal" for b in view["blocks"]):
        values["deal"] = {"v": static_select_value(None if deal is None else str(deal))}
        values["share"] = {"v": number_value(share)}
    result = bot.send(
        bot.slack.view_submission(
            view["callback_id"],
            values,
            user=user,
            private_metadata=view.get("private_metadata", ""),
            blocks=view["blocks"],
        )
    )
    assert result.status == 200
    return result.json() if result.body.startswith("{") else {}


def click_on(
    bot: RunningBot, user: str, message: dict[str, Any], action_id: str, channel: str = STORIES
) -> Any:
    result = bot.send(
        bot.slack.block_action(action_id, user=user, channel=channel, message=message)
    )
    assert result.status == 200
    return result


def ephemerals(bot: RunningBot, user: str) -> list[str]:
    posted = [c.body for c in bot.standin.calls_to("chat.postEphemeral", ok=True)]
    said = [str(b.get("text") or "") for b in posted if b.get("user") == user]
    return said + [str(c.body.get("text")) for c in bot.standin.calls_to("response_url")]


def assert_valid(bot: RunningBot) -> None:
    for method in ("chat.postMessage", "chat.update", "views.open", "chat.postEphemeral"):
        assert bot.standin.calls_to(method, ok=False) == [], method
    for call in bot.standin.calls_to("chat.postMessage", ok=True):
        if call.body.get("blocks"):
            assert check_message_blocks(call.body["blocks"]) == []


# --- the week's thread -----------------------------------------------------------------------


def test_schedule_is_monday_ten_in_the_workspace_zone() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(MADRID)
    # Sunday: this week's Monday passed long ago; next Monday 10:00 CET = 09:00 UTC.
    assert weeks_to_plan(utc(2026, 11, 29, 12), zone) == [("2026-W49", utc(2026, 11, 30, 9))]
    # Monday 10:30: this week's is still worth sending (late), and next week's.
    assert weeks_to_plan(utc(2026, 11, 30, 9, 30), zone) == [
        ("2026-W49", utc(2026, 11, 30, 9)),
        ("2026-W50", utc(2026, 12, 7, 9)),
    ]
    # Summer time: 10:00 CEST is 08:00 UTC.
    assert this_week(utc(2026, 6, 10, 12), zone) == ("2026-W24", utc(2026, 6, 8, 8))


def test_one_thread_a_week_at_monday_ten_madrid_time(
    sbot: RunningBot, standin: SlackStandIn, clock: FakeClock, sqlite_url: str
) -> None:
    know(sbot, REP)
    at(sbot, utc(2026, 11, 29, 12))  # Sunday
    assert prompts(sbot) == []
    at(sbot, utc(2026, 11, 30, 8, 59))
    assert prompts(sbot) == []
    at(sbot, utc(2026, 11, 30, 9, 0))  # Monday 10:00 in Madrid
    [prompt] = prompts(sbot)
    assert "thread_ts" not in prompt
    assert "Story time" in texts(prompt)

    # Several dispatchers at once, and a restarted bot on the same database: still one.
    async def three_dispatchers() -> None:
        await asyncio.gather(drain(sbot.rt), drain(sbot.rt), drain(sbot.rt))

    sbot.run(three_dispatchers())
    other, stop = start_bot(
        standin,
        clock,
        sqlite_url,
        extra_env={"STORIES_CHANNEL": "#team-stories", "WORKSPACE_TZ": MADRID},
    )
    try:
        other.tick()
        other.tick()
    finally:
        stop()
    at(sbot, utc(2026, 12, 3, 12))
    assert len(prompts(sbot)) == 1
    at(sbot, utc(2026, 12, 7, 9))  # next Monday
    assert len(prompts(sbot)) == 2
    assert_valid(sbot)


# --- sharing a story ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["http", "socket"], indirect=True)
def test_story_from_the_command_starts_the_thread_and_lands_in_it(sbot: RunningBot) -> None:
    know(sbot, REP, REP2)
    at(sbot, utc(2026, 12, 2, 15))  # a Wednesday: no thread yet this week (none planned)
    globex = win(sbot, "Globex", "$50,000")
    assert sbot.send(sbot.slack.slash_command("story", user=REP)).status == 200
    view = modal(sbot)
    assert "team-stories" in json.dumps(view)  # the form says where it goes, to whom
    submit_story(sbot, REP, view, deal=globex, share=40)
    [prompt] = prompts(sbot)
    [story] = stories_in(sbot)
    assert story["thread_ts"] == prompt["ts"]  # in the thread, never the channel root
    assert f"<@{REP}>" in texts(story)
    assert "Ask for the go-live date" in texts(story)
    assert "Globex" in texts(story) and "40%" in texts(story) and "$50,000" in texts(story)
    [row] = rows(sbot)
    assert (row.rep_slack_id, row.deal_id, row.share, row.week) == (REP, globex, 40, "2026-W49")
    assert row.permalink and row.permalink.endswith(f"thread_ts={prompt['ts']}&cid={STORIES}")
    assert any("Posted in this week's thread" in e for e in ephemerals(sbot, REP))
    # A second story the same week goes into the same thread; no second prompt.
    assert sbot.send(sbot.slack.slash_command("story", user=REP2)).status == 200
    submit_story(sbot, REP2, modal(sbot), lesson="Escuchar más", did="Callé", happened="Hablaron")
    assert len(prompts(sbot)) == 1
    assert [m["thread_ts"] for m in stories_in(sbot)] == [prompt["ts"]] * 2
    # Monday's planned prompt for this week is not posted again later.
    at(sbot, utc(2026, 12, 3, 9))
    assert len(prompts(sbot)) == 1
    assert_valid(sbot)


@pytest.mark.parametrize("transport", ["http", "socket"], indirect=True)
def test_the_modal_checks_the_deal_and_share_and_keeps_nothing_bad(sbot: RunningBot) -> None:
    know(sbot, REP, REP2)
    at(sbot, utc(2026, 12, 2, 15))
    globex = win(sbot, "Globex", "$50,000")
    initech = win(sbot, "Initech", "€10,000", rep=REP2)
    sbot.send(sbot.slack.slash_command("story", user=REP))
    view = modal(sbot)
    options = json.dumps([b for b in view["blocks"] if b.get("block_id") == "deal"])
    assert "Globex" in options and "Initech" not in options  # only the rep's own deals
    cases = [
        ({"deal": globex, "share": 150}, "share", "0 to 100"),
        ({"deal": globex, "share": "-5"}, "share", "0 to 100"),
        ({"deal": None, "share": 30}, "share", "Pick the deal"),
        ({"deal": globex, "share": None}, "share", "How much"),
        ({"deal": initech, "share": 30}, "deal", "your own deals"),  # a forged option
        ({"lesson": "   "}, "lesson", "a few words"),
    ]
    for answers, field, words in cases:
        answer = submit_story(sbot, REP, view, **answers)  # type: ignore[arg-type]
        assert answer["response_action"] == "errors"
        assert words in answer["errors"][field]
    assert rows(sbot) == [] and stories_in(sbot) == []
    submit_story(sbot, REP, view, deal=globex, share=0)
    assert [r.share for r in rows(sbot)] == [0]


def test_story_from_the_threads_button(sbot: RunningBot) -> None:
    know(sbot, REP)
    at(sbot, utc(2026, 11, 30, 9))
    [prompt] = prompts(sbot)
    # Slack says the bot reacted already (a retry raced the first): still one story, offered.
    sbot.standin.fail_next("reactions.add", error="already_reacted")
    type_in_thread(sbot, REP, "Listened first", prompt["ts"])
    assert [r.source for r in rows(sbot)] == ["typed"]
    assert any(c.body["user"] == REP for c in sbot.standin.calls_to("chat.postEphemeral"))
    click_on(sbot, REP2, prompt, ids.STORY_SHARE)  # anyone on the team may share
    submit_story(sbot, REP2, modal(sbot), lesson="Preguntar por la fecha")
    [story] = stories_in(sbot)
    assert story["thread_ts"] == prompt["ts"]
    assert f"<@{REP2}>" in texts(story)
    # `/loop story <lesson>` starts the modal with the lesson written.
    sbot.send(sbot.slack.slash_command("story Silence after the price", user=REP))
    assert "Silence after the price" in json.dumps(modal(sbot)["blocks"][1])
    assert_valid(sbot)


def test_win_invitation_once_per_deal_opens_the_modal_with_the_deal(sbot: RunningBot) -> None:
    know(sbot, REP)
    at(sbot, utc(2026, 12, 2, 15))
    globex = win(sbot, "Globex", "$50,000")
    at(sbot, utc(2026, 12, 3, 14, 59))
    assert invitations(sbot, REP) == []
    at(sbot, utc(2026, 12, 3, 15, 1))  # a day after the win
    [invite] = invitations(sbot, REP)
    assert "Anything you'd tell the team?" in texts(invite)
    result = sbot.send(
        sbot.slack.block_action(
            ids.STORY_INVITE_SHARE,
            user=REP,
            channel=sbot.standin.dm_channel(REP),
            message=invite,
        )
    )
    assert result.status == 200
    view = modal(sbot)
    [deal_block] = [b for b in view["blocks"] if b.get("block_id") == "deal"]
    assert deal_block["element"]["initial_option"]["value"] == str(globex)
    submit_story(sbot, REP, view, deal=globex, share=25)
    [prompt] = prompts(sbot)
    [story] = stories_in(sbot)
    assert story["thread_ts"] == prompt["ts"]
    at(sbot, utc(2026, 12, 10, 15))
    assert len(invitations(sbot, REP)) == 1  # at most once per deal
    # Another rep cannot use Rita's invitation (the deal is hers).
    sbot.send(
        sbot.slack.block_action(
            ids.STORY_INVITE_SHARE, user=REP2, channel=sbot.standin.dm_channel(REP), message=invite
        )
    )
    assert len(sbot.standin.calls_to("views.open", ok=True)) == 1
    assert_valid(sbot)


def invitations(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    return [
        m
        for m in bot.standin.messages(bot.standin.dm_channel(user))
        if ids.STORY_INVITE_SHARE in action_ids(m)
    ]


def test_no_invitation_for_a_win_that_already_has_its_story(sbot: RunningBot) -> None:
    know(sbot, REP)
    at(sbot, utc(2026, 12, 2, 15))
    globex = win(sbot, "Globex", "$50,000")
    sbot.send(sbot.slack.slash_command("story", user=REP))
    submit_story(sbot, REP, modal(sbot), deal=globex, share=10)
    at(sbot, utc(2026, 12, 3, 16))
    assert invitations(sbot, REP) == []
    with Session(sbot.rt.engine) as s:
        [nudge] = s.exec(select(Nudge).where(Nudge.kind == "story_invite")).all()
        assert nudge.state == "skipped"


def type_in_thread(
    bot: RunningBot, user: str, text: str, thread_ts: str, channel: str = STORIES
) -> str:
    ts = bot.standin.post_as_user(user, channel, text, thread_ts=thread_ts)
    event = bot.slack.message_event(text, channel=channel, user=user, ts=ts, thread_ts=thread_ts)
    request = bot.slack.event_request(event)
    assert bot.send(request).status == 200
    assert bot.send(request).status == 200  # Slack redelivers: still one story
    return ts


@pytest.mark.parametrize("transport", ["http", "socket"], indirect=True)
def test_a_reply_typed_in_the_thread_is_a_story(sbot: RunningBot) -> None:
    know(sbot, REP)
    at(sbot, utc(2026, 12, 2, 15))
    globex = win(sbot, "Globex", "$50,000")
    at(sbot, utc(2026, 11, 30, 9))  # the clock goes back only to post Monday's prompt
    [prompt] = prompts(sbot)
    ts = type_in_thread(
        sbot, REP, "Asked about their go-live date first. It changed everything.", prompt["ts"]
    )
    [reaction] = sbot.standin.calls_to("reactions.add", ok=True)
    assert reaction.body["timestamp"] == ts and reaction.body["channel"] == STORIES
    [typed] = rows(sbot)
    assert (typed.source, typed.ts, typed.thread_ts, typed.rep_slack_id) == (
        "typed",
        ts,
        prompt["ts"],
        REP,
    )
    [offer] = [
        c.body
        for c in sbot.standin.calls_to("chat.postEphemeral", ok=True)
        if c.body["user"] == REP
    ]
    assert offer["thread_ts"] == prompt["ts"] and ids.STORY_LINK in json.dumps(offer["blocks"])
    offer_message = {"ts": "1.0", "blocks": json.loads(json.dumps(offer["blocks"]))}
    # Another rep cannot link Rita's story.
    sbot.send(
        sbot.slack.block_action(
            ids.STORY_LINK, user=REP2, channel=STORIES, message=offer_message, is_ephemeral=True
        )
    )
    assert sbot.standin.calls_to("views.open", ok=True) == []
    sbot.send(
        sbot.slack.block_action(
            ids.STORY_LINK, user=REP, channel=STORIES, message=offer_message, is_ephemeral=True
        )
    )
    view = modal(sbot)
    answer = sbot.send(
        sbot.slack.view_submission(
            view["callback_id"],
            {"deal": {"v": static_select_value(str(globex))}, "share": {"v": number_value(60)}},
            user=REP,
            private_metadata=view["private_metadata"],
        )
    )
    assert answer.status == 200
    [typed] = rows(sbot)
    assert (typed.deal_id, typed.share) == (globex, 60)
    # Rita edits her message in Slack: the story follows; she deletes it: it is gone.
    original = {"type": "message", "user": REP, "text": "x", "ts": ts, "thread_ts": prompt["ts"]}
    changed = sbot.slack.message_event(
        "",
        channel=STORIES,
        user=None,
        subtype="message_changed",
        hidden=True,
        message={**original, "text": "Ask for the go-live date. Always."},
        previous_message=original,
    )
    sbot.send(sbot.slack.event_request(changed))
    assert rows(sbot)[0].lesson == "Ask for the go-live date. Always."
    deleted = sbot.slack.message_event(
        "",
        channel=STORIES,
        user=None,
        subtype="message_deleted",
        hidden=True,
        deleted_ts=ts,
        previous_message=original,
    )
    sbot.send(sbot.slack.event_request(deleted))
    assert rows(sbot)[0].state == "deleted"
    # A reply elsewhere (another thread, another channel, the bot itself) is no story.
    other = sbot.standin.post_as_user(REP, STORIES, "lunch?")
    type_in_thread(sbot, REP, "sure", other)
    type_in_thread(sbot, REP, "in deals", "1700000000.000100", channel=DEALS)
    assert len(rows(sbot)) == 1
    assert_valid(sbot)


# --- edit and delete ---------------------------------------------------------------------------


def test_only_the_author_edits_or_deletes_a_story(sbot: RunningBot) -> None:
    know(sbot, REP, REP2)
    at(sbot, utc(2026, 12, 2, 15))
    sbot.send(sbot.slack.slash_command("story", user=REP))
    submit_story(sbot, REP, modal(sbot))
    [story] = stories_in(sbot)
    opened = len(sbot.standin.calls_to("views.open", ok=True))
    # Sam (another rep) clicks Edit and Delete on Rita's story: refused, nothing changes.
    click_on(sbot, REP2, story, ids.STORY_EDIT)
    click_on(sbot, REP2, story, ids.STORY_DELETE)
    assert len(sbot.standin.calls_to("views.open", ok=True)) == opened
    assert sbot.standin.calls_to("chat.delete") == []
    assert len(stories_in(sbot)) == 1
    # A forged id (someone else's story, or none) is refused too.
    forged = json.loads(json.dumps(story))
    forged["blocks"][-1]["elements"][0]["value"] = "999999"
    click_on(sbot, REP, forged, ids.STORY_EDIT)
    assert len(sbot.standin.calls_to("views.open", ok=True)) == opened
    # Sam's own modal cannot be pointed at Rita's story.
    sbot.send(sbot.slack.slash_command("story", user=REP2))
    sams = modal(sbot)
    sams["private_metadata"] = json.dumps({"story": rows(sbot)[0].id, "user": REP2})
    submit_story(sbot, REP2, sams, lesson="hijacked")
    assert "hijacked" not in texts(stories_in(sbot)[0])
    # Rita edits: the modal is prefilled and the message in the thread is updated in place.
    click_on(sbot, REP, story, ids.STORY_EDIT)
    view = modal(sbot)
    assert "Ask for the go-live date" in json.dumps(view)
    submit_story(sbot, REP, view, lesson="Ask for the go-live date, and who decides it")
    [update] = sbot.standin.calls_to("chat.update", ok=True)
    assert update.body["ts"] == story["ts"]
    [edited] = stories_in(sbot)
    assert "who decides it" in texts(edited) and edited["thread_ts"] == story["thread_ts"]
    # Rita deletes it.
    click_on(sbot, REP, edited, ids.STORY_DELETE)
    [deleted] = sbot.standin.calls_to("chat.delete", ok=True)
    assert deleted.body["ts"] == story["ts"]
    assert stories_in(sbot) == []
    assert [r.state for r in rows(sbot)] == ["deleted"]
    # A stale Delete click afterwards: "gone", no error.
    click_on(sbot, REP, edited, ids.STORY_DELETE)
    assert len(sbot.standin.calls_to("chat.delete")) == 1
    assert_valid(sbot)


# --- the monthly post --------------------------------------------------------------------------


def test_monthly_post_adds_up_the_revenue_credited_to_lessons(sbot: RunningBot) -> None:
    know(sbot, REP, REP2)
    at(sbot, utc(2026, 11, 30, 9))
    globex = win(sbot, "Globex", "$50,000")
    acme = win(sbot, "Acme", "$12,500")
    initech = win(sbot, "Initech", "€10,000", rep=REP2)
    shares = [(REP, globex, 40), (REP, acme, 10), (REP2, initech, 50), (REP2, None, None)]
    for user, deal, share in shares:
        sbot.send(sbot.slack.slash_command("story", user=user))
        submit_story(sbot, user, modal(sbot), deal=deal, share=share)
    # One story is deleted: it no longer counts.
    sbot.send(sbot.slack.slash_command("story", user=REP))
    submit_story(sbot, REP, modal(sbot), lesson="Deleted one", deal=globex, share=100)
    click_on(sbot, REP, stories_in(sbot)[-1], ids.STORY_DELETE)
    at(sbot, utc(2026, 12, 1, 8, 59))
    assert month_posts(sbot) == []
    at(sbot, utc(2026, 12, 1, 9, 0))  # December 1st, 10:00 in Madrid
    [post] = month_posts(sbot)
    assert "thread_ts" not in post
    body = texts(post)
    assert "Stories of November 2026" in body
    assert "*4* stories" in body and "*3* deals linked" in body
    # 50,000 × 40 % + 12,500 × 10 % = 21,250 USD; 10,000 × 50 % = 5,000 EUR: never added up.
    assert "$21,250" in body and "€5,000" in body
    assert "Deleted one" not in body
    assert "applied 4×" in body and f"<@{REP}>" in body and f"<@{REP2}>" in body
    assert body.count("https://") >= 4  # each story links to itself (chat.getPermalink)
    at(sbot, utc(2026, 12, 2, 9))
    assert len(month_posts(sbot)) == 1
    assert_valid(sbot)


def month_posts(bot: RunningBot) -> list[dict[str, Any]]:
    return [
        m
        for m in channel_posts(bot)
        if m.get("blocks") and m["blocks"][0]["type"] == "header" and "Stories of" in texts(m)
    ]


def test_summary_arithmetic_per_currency() -> None:
    entries = [
        MonthEntry("U1", "Listen", None, "A", 40, Decimal("1000"), "USD", 1),
        MonthEntry("U2", "listen.", None, "B", 25, Decimal("333.33"), "USD", 2),
        MonthEntry("U2", "Ask why", None, "C", 100, Decimal("10"), "EUR", 3),
        MonthEntry("U3", "Ask why", None, None, None, None, None),
        # Two more stories credit deal A: 40 + 50 + 30 % is capped at the whole deal.
        MonthEntry("U4", "Be quiet", None, "A", 50, Decimal("1000"), "USD", 1),
        MonthEntry("U5", "Be quiet", None, "A", 30, Decimal("1000"), "USD", 1),
        # Another deal with the same account name is another deal.
        MonthEntry("U5", "Be quiet", None, "A", 10, Decimal("200"), "USD", 4),
    ]
    s = summarise(entries)
    assert s.stories == 7 and s.deals == 4
    # USD: 1000 (A, capped at 100 %) + 333.33 × 25 % + 200 × 10 %; EUR: 10 × 100 %.
    assert s.attributed == {"EUR": Decimal("10"), "USD": Decimal("1103.3325")}
    assert [(lesson, n) for lesson, n, _ in s.lessons[:3]] == [
        ("Be quiet", 3),
        ("Ask why", 2),
        ("Listen", 2),
    ]
    assert s.lessons[0][2] == ["U4", "U5"]  # who applied it, once each


# --- settings, without a restart ----------------------------------------------------------------


def settings(bot: RunningBot, user: str, words: str) -> str:
    assert (
        bot.send(bot.slack.slash_command(f"settings stories {words}".strip(), user=user)).status
        == 200
    )
    return str(bot.standin.calls_to("response_url")[-1].body["text"])


def test_settings_are_admins_only_and_apply_at_once(sbot: RunningBot) -> None:
    know(sbot, REP, ADMIN)
    at(sbot, utc(2026, 12, 2, 15))
    shown = settings(sbot, REP, "")  # anyone may look; STORIES_CHANNEL's name, resolved
    assert f"<#{STORIES}>" in shown and "Europe/Madrid" in shown and "STORIES_CHANNEL" in shown
    refused = settings(sbot, REP, f"<#{NEW_STORIES}|wins-and-lessons>")
    assert "Only an admin" in refused
    assert "Only an admin" in settings(sbot, REP, "language es")
    assert sbot.standin.calls_to("conversations.join") == []
    # The admin names a public channel the bot is not in: it joins it.
    answer = settings(sbot, ADMIN, f"<#{NEW_STORIES}|wins-and-lessons>")
    assert f"<#{NEW_STORIES}>" in answer
    [join] = sbot.standin.calls_to("conversations.join", ok=True)
    assert join.body["channel"] == NEW_STORIES
    # A private channel the bot is not in: it says how to invite it.
    assert "/invite" in settings(sbot, ADMIN, f"<#{SECRET}|secret-stories>")
    assert "isn't a channel" in settings(sbot, ADMIN, "stories-please")
    assert "can't find" in settings(sbot, ADMIN, "#no-such-channel")
    assert "Use en, es or fr" in settings(sbot, ADMIN, "language de")
    assert "time zone I know" in settings(sbot, ADMIN, "timezone Mars/Olympus")
    assert "español" in settings(sbot, ADMIN, "language es")
    # No restart: the next story goes to the new channel, in Spanish.
    sbot.send(sbot.slack.slash_command("story", user=REP))
    submit_story(sbot, REP, modal(sbot))
    [prompt] = prompts(sbot, NEW_STORIES)
    assert "Hora de historias" in texts(prompt)
    [story] = stories_in(sbot, NEW_STORIES)
    assert story["thread_ts"] == prompt["ts"] and "Qué hice" in texts(story)
    assert stories_in(sbot) == []
    # Off: /loop story says there is no channel.
    assert "turned off" in settings(sbot, ADMIN, "off")
    sbot.send(sbot.slack.slash_command("story", user=REP))
    assert "no stories channel" in str(sbot.standin.calls_to("response_url")[-1].body["text"])
    assert_valid(sbot)


def test_workspace_time_zone_setting_moves_the_thread(sbot: RunningBot) -> None:
    know(sbot, REP, ADMIN)
    at(sbot, utc(2026, 12, 2, 15))
    assert "America/New_York" in settings(sbot, ADMIN, "timezone America/New_York")
    at(sbot, utc(2026, 12, 2, 15, 1))  # the dispatcher's next tick re-plans Monday's
    at(sbot, utc(2026, 12, 7, 9))  # 10:00 in Madrid, 04:00 in New York
    assert prompts(sbot) == []
    at(sbot, utc(2026, 12, 7, 15))  # 10:00 in New York
    assert len(prompts(sbot)) == 1


@pytest.mark.parametrize(
    ("lang", "prompt_words", "story_words", "month_words"),
    [
        ("en", "Story time", "What I did", "Stories of November 2026"),
        ("es", "Hora de historias", "Qué hice", "Historias de noviembre 2026"),
        ("fr", "Que s", "Ce que j'ai fait", "Les histoires de novembre 2026"),
    ],
)
def test_the_channel_speaks_its_language(
    sbot: RunningBot, lang: str, prompt_words: str, story_words: str, month_words: str
) -> None:
    know(sbot, REP, ADMIN, "U0FR")
    at(sbot, utc(2026, 11, 25, 15))
    settings(sbot, ADMIN, f"language {lang}")
    # The French rep's modal is in French, whatever the channel's language.
    sbot.send(sbot.slack.slash_command("story", user="U0FR"))
    view = modal(sbot)
    assert "Qu'avez-vous fait ?" in json.dumps(view, ensure_ascii=False)
    submit_story(sbot, "U0FR", view)
    [prompt] = prompts(sbot)
    [story] = stories_in(sbot)
    assert story["thread_ts"] == prompt["ts"]
    if lang != "fr":
        assert prompt_words in texts(prompt)
    else:
        assert "histoires" in texts(prompt).lower()
    assert story_words in texts(story)
    at(sbot, utc(2026, 12, 1, 9))
    [post] = [m for m in channel_posts(sbot) if m.get("blocks", [{}])[0].get("type") == "header"]
    assert month_words in texts(post)
    assert_valid(sbot)


def test_posting_fails_when_the_bot_was_removed_and_the_story_is_kept(
    sbot: RunningBot, standin: SlackStandIn
) -> None:
    know(sbot, REP)
    at(sbot, utc(2026, 12, 2, 15))
    # Someone removed the bot from the (now private) channel: it cannot rejoin by itself.
    standin.add_channel(STORIES, "team-stories", is_private=True, is_member=False)
    sbot.send(sbot.slack.slash_command("story", user=REP))
    submit_story(sbot, REP, modal(sbot))
    [row] = rows(sbot)
    assert row.state == "waiting"  # kept, not lost
    dms = sbot.standin.messages(sbot.standin.dm_channel(REP))
    assert any("not_in_channel" in str(m.get("text")) for m in dms)
    assert stories_in(sbot) == []
    # Someone invites the bot back; within the hour the story is posted in the thread.
    standin.add_channel(STORIES, "team-stories", is_private=True, is_member=True)
    at(sbot, utc(2026, 12, 2, 15, 30))
    assert stories_in(sbot) == []  # not tried again every tick
    at(sbot, utc(2026, 12, 2, 16, 1))
    [prompt] = prompts(sbot)
    [story] = stories_in(sbot)
    assert story["thread_ts"] == prompt["ts"]
    assert [r.state for r in rows(sbot)] == ["posted"]
    failed = sbot.standin.calls_to("chat.postMessage", ok=False)
    assert {c.response["error"] for c in failed} == {"not_in_channel"}


def test_a_prompt_slack_stored_but_failed_to_confirm_is_found_not_posted_twice(
    sbot: RunningBot, standin: SlackStandIn
) -> None:
    """chat.postMessage answered 500 after storing the prompt: the nudge is uncertain, and
    reconciling reads the channel's own history (not a DM) and finds it."""
    standin.follow_clock(lambda: sbot.rt.clock.now().timestamp())  # Slack's ts is its clock
    know(sbot, REP)
    at(sbot, utc(2026, 11, 29, 12))
    standin.fail_next("chat.postMessage", status=500, after_processing=True)
    at(sbot, utc(2026, 11, 30, 9))
    assert len(prompts(sbot)) == 1
    at(sbot, utc(2026, 11, 30, 9, 1))  # past the reconcile delay
    assert len(prompts(sbot)) == 1
    [history] = standin.calls_to("conversations.history", ok=True)
    assert history.body["channel"] == STORIES
    with Session(sbot.rt.engine) as s:
        [week] = s.exec(
            select(Nudge).where(Nudge.kind == "stories_week", Nudge.state == "sent")
        ).all()
        assert week.sent_ts == prompts(sbot)[0]["ts"]


def test_a_prompt_slack_never_got_is_sent_again(sbot: RunningBot, standin: SlackStandIn) -> None:
    know(sbot, REP)
    at(sbot, utc(2026, 11, 29, 12))
    standin.fail_next("chat.postMessage", status=500)
    at(sbot, utc(2026, 11, 30, 9))
    assert prompts(sbot) == []
    at(sbot, utc(2026, 11, 30, 9, 1))
    assert len(prompts(sbot)) == 1


def test_a_story_before_mondays_prompt_brings_the_prompt_forward_once(sbot: RunningBot) -> None:
    know(sbot, REP)
    at(sbot, utc(2026, 11, 29, 12))  # Sunday: Monday's prompt is planned
    at(sbot, utc(2026, 11, 30, 7))  # Monday 08:00 in Madrid, before the prompt
    sbot.send(sbot.slack.slash_command("story", user=REP))
    submit_story(sbot, REP, modal(sbot))
    [prompt] = prompts(sbot)
    [story] = stories_in(sbot)
    assert story["thread_ts"] == prompt["ts"]
    at(sbot, utc(2026, 11, 30, 9))  # 10:00: it was posted already
    assert len(prompts(sbot)) == 1


@pytest.fixture
def dbbot(
    standin: SlackStandIn, clock: FakeClock, db_url: str, bot_server: BotServer
) -> Iterator[RunningBot]:
    """As `sbot`, on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""
    standin.add_channel(STORIES, "team-stories")
    env = {"STORIES_CHANNEL": STORIES, "WORKSPACE_TZ": MADRID}
    running, stop = start_bot(standin, clock, db_url, extra_env=env, server=bot_server)
    yield running
    stop()


def test_invitation_story_and_month_on_each_database(dbbot: RunningBot) -> None:
    know(dbbot, REP)
    at(dbbot, utc(2026, 11, 10, 15))
    globex = win(dbbot, "Globex", "$50,000")
    at(dbbot, utc(2026, 11, 11, 15, 1))
    [invite] = invitations(dbbot, REP)
    dbbot.send(
        dbbot.slack.block_action(
            ids.STORY_INVITE_SHARE, user=REP, channel=dbbot.standin.dm_channel(REP), message=invite
        )
    )
    submit_story(dbbot, REP, modal(dbbot), deal=globex, share=20)
    [prompt] = prompts(dbbot)
    [story] = stories_in(dbbot)
    assert story["thread_ts"] == prompt["ts"]
    at(dbbot, utc(2026, 11, 20, 15))
    assert len(invitations(dbbot, REP)) == 1
    at(dbbot, utc(2026, 12, 1, 9))
    [post] = month_posts(dbbot)
    assert "$10,000" in texts(post)  # 50,000 × 20 %


@pytest.mark.parametrize(
    ("user", "words"),
    [
        (REP, "Anything you'd tell the team?"),
        (REP2, "¿Algo que le dirías al equipo?"),
        ("U0FR", "Quelque chose à dire à l'équipe ?"),
    ],
)
def test_the_win_invitation_is_in_the_reps_language(
    sbot: RunningBot, user: str, words: str
) -> None:
    know(sbot, user)
    at(sbot, utc(2026, 12, 2, 15))
    win(sbot, "Globex", "$50,000", rep=user)
    at(sbot, utc(2026, 12, 3, 15, 1))
    [invite] = invitations(sbot, user)
    assert words in texts(invite)
    assert_valid(sbot)


def test_forget_me_takes_the_reps_stories_down(sbot: RunningBot) -> None:
    know(sbot, REP, REP2)
    at(sbot, utc(2026, 12, 2, 15))
    for user in (REP, REP2):
        sbot.send(sbot.slack.slash_command("story", user=user))
        submit_story(sbot, user, modal(sbot))
    ritas = stories_in(sbot)[0]
    sbot.send(sbot.slack.slash_command("forget-me", user=REP))
    sbot.send(sbot.slack.block_action("forget_me_confirm", user=REP, value="x"))
    [deleted] = sbot.standin.calls_to("chat.delete", ok=True)
    assert deleted.body["ts"] == ritas["ts"]
    assert [r.rep_slack_id for r in rows(sbot)] == [REP2]
    assert len(stories_in(sbot)) == 1


def test_an_edit_submitted_after_the_story_was_deleted_changes_nothing(sbot: RunningBot) -> None:
    know(sbot, REP)
    at(sbot, utc(2026, 12, 2, 15))
    sbot.send(sbot.slack.slash_command("story", user=REP))
    submit_story(sbot, REP, modal(sbot))
    [story] = stories_in(sbot)
    click_on(sbot, REP, story, ids.STORY_EDIT)
    edit_view = modal(sbot)
    click_on(sbot, REP, story, ids.STORY_DELETE)
    submit_story(sbot, REP, edit_view, lesson="Back from the dead")
    assert [r.state for r in rows(sbot)] == ["deleted"]
    assert sbot.standin.calls_to("chat.update") == []
    dms = sbot.standin.messages(sbot.standin.dm_channel(REP))
    assert any("isn't there any more" in str(m.get("text")) for m in dms)


def test_month_slots_cross_the_year_and_summer_time() -> None:
    from zoneinfo import ZoneInfo

    from bot.nudges.story_schedule import month_bounds, months_to_plan

    zone = ZoneInfo(MADRID)
    # 1 January 10:00 CET is 09:00 UTC; December's post is still due on the 2nd.
    assert months_to_plan(utc(2027, 1, 2, 12), zone) == [
        ("2026-12", utc(2027, 1, 1, 9)),
        ("2027-01", utc(2027, 2, 1, 9)),
    ]
    # Past the three days it may be late, only this month's is planned.
    assert months_to_plan(utc(2027, 1, 5, 12), zone) == [("2027-01", utc(2027, 2, 1, 9))]
    # A month runs from local midnight to local midnight (March's ends in summer time).
    assert month_bounds("2026-03", zone) == (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))


def test_the_bot_joins_a_public_stories_channel_it_was_never_invited_to(
    sbot: RunningBot, standin: SlackStandIn
) -> None:
    know(sbot, REP)
    standin.add_channel(STORIES, "team-stories", is_member=False)
    at(sbot, utc(2026, 11, 29, 12))
    at(sbot, utc(2026, 11, 30, 9))
    [join] = standin.calls_to("conversations.join", ok=True)
    assert join.body["channel"] == STORIES
    assert len(prompts(sbot)) == 1
    assert_valid(sbot)
