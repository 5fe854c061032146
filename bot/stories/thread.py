"""Posting a story in its week's thread. A story is a row first (`waiting`); with no
thread yet this week, the week's prompt (a nudge) is brought forward and sent now, and
its after-sent posts the waiting stories. A story is only ever posted by whoever claims
it (`storage.stories.claim_to_post`), so it is posted once."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.messages import Built, Texts, format_amount
from bot.messages import lessons as lessons_msg
from bot.messages import stories as msg
from bot.nudges.delivery import deliver
from bot.runtime import Runtime
from bot.slack.errors import api_error
from bot.slack.people import load_person
from storage import lessons as lesson_store
from storage import nudges as nudge_store
from storage import stories as store
from storage.models import Nudge, Story

log = logging.getLogger(__name__)


async def ensure_member(rt: Runtime, channel: str) -> None:
    """Join a public stories channel the bot is not in (STORIES_CHANNEL named one it was
    never invited to), once a week before the prompt. A private one needs an `/invite`:
    the post then fails with not_in_channel, and the story waits (it is kept)."""
    try:
        info = (await rt.client.conversations_info(channel=channel))["channel"]
        if info.get("is_member", True) or info.get("is_private"):
            return
        await rt.client.conversations_join(channel=channel)
    except SlackApiError as e:
        log.warning("could not join the stories channel %s: %s", channel, api_error(e))


async def permalink(rt: Runtime, channel: str, ts: str | None) -> str | None:
    if not ts:
        return None
    try:
        resp = await rt.client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError as e:
        log.info("no permalink for %s/%s: %s", channel, ts, api_error(e))
        return None
    return str(resp.get("permalink") or "") or None


def _view_of(
    story: Story, deal_account: str | None, amount: str, credit: str = ""
) -> msg.StoryView:
    return msg.StoryView(
        id=int(story.id or 0),
        rep=story.rep_slack_id,
        lesson=story.lesson,
        did=story.did,
        happened=story.happened,
        account=deal_account,
        amount=amount,
        share=story.share if deal_account else None,
        credit=credit,
    )


async def story_message(rt: Runtime, story: Story) -> Built:
    account, amount = None, ""
    if story.deal_id is not None:
        deals = await rt.tx(store.deals_by_id, write=False, ids=[story.deal_id])
        deal = deals.get(story.deal_id)
        if deal is not None:
            account, amount = deal.account, format_amount(deal.amount, deal.currency)
    t = Texts(rt.catalog, story.lang)
    credit = ""
    if story.lesson_id is not None:
        found = await rt.tx(lesson_store.lessons_by_id, write=False, ids=[story.lesson_id])
        lesson = found.get(story.lesson_id)
        if lesson is not None and lesson.owner_slack_id != story.rep_slack_id:
            credit = lessons_msg.credit_line(
                t, owner=lesson.owner_slack_id, source=lesson.source, account=lesson.account
            )
    return msg.story_post(t, _view_of(story, account, amount, credit))


async def tell(
    rt: Runtime, channel: str, user: str, text: str, thread_ts: str | None = None
) -> None:
    """An ephemeral answer in the stories channel (a modal has no response_url)."""
    try:
        await rt.client.chat_postEphemeral(
            channel=channel, user=user, text=text, thread_ts=thread_ts
        )
    except SlackApiError as e:
        log.info("could not tell %s in %s: %s", user, channel, api_error(e))


async def post_story(rt: Runtime, story_id: int, *, thread_ts: str) -> str | None:
    """Post a waiting story in its thread; returns Slack's error, or None when it posted
    (or another worker has it)."""
    now = rt.clock.now()
    story = await rt.tx(store.claim_to_post, story_id=story_id, now=now)
    if story is None:
        return None
    built = await story_message(rt, story)
    try:
        resp = await rt.client.chat_postMessage(
            channel=story.channel, thread_ts=thread_ts, **built.as_kwargs()
        )
    except SlackApiError as e:
        # Nothing was posted (or Slack is unsure): back to waiting, kept, never lost.
        await rt.tx(store.update_story, story_id=story_id, now=rt.clock.now(), state=store.WAITING)
        return api_error(e)
    ts = str(resp.get("ts"))
    link = await permalink(rt, story.channel, ts)
    await rt.tx(
        store.update_story,
        story_id=story_id,
        now=rt.clock.now(),
        state=store.POSTED,
        ts=ts,
        thread_ts=thread_ts,
        permalink=link,
    )
    # A teammate's lesson applied: they are told (a nudge, once per story).
    await rt.tx(lesson_store.credit_after_post, story_id=story_id, now=rt.clock.now())
    rep = await load_person(rt, team_id=story.team_id, user_id=story.rep_slack_id)
    t = Texts(rt.catalog, rep.locale)
    await tell(
        rt, story.channel, story.rep_slack_id, t("stories.posted", channel=story.channel), thread_ts
    )
    return None


def _ensure_week_nudge(
    *, session: Any, team_id: str, channel: str, week: str, now: datetime
) -> Nudge:
    nudge = nudge_store.schedule(
        session=session,
        team_id=team_id,
        user_slack_id=channel,
        kind=store.STORIES_WEEK,
        due_at=now,
        idempotency_key=store.week_key(team_id, channel, week),
        payload={"week": week},
        now=now,
    )
    assert nudge.id is not None
    store.bring_forward(session=session, nudge_id=nudge.id, now=now)
    session.flush()
    session.refresh(nudge)
    return nudge


async def share(rt: Runtime, story_id: int) -> str | None:
    """Post a saved story in its week's thread, starting the thread first when there is
    none yet. Returns Slack's error when it could not be posted (it stays saved)."""
    story = await rt.tx(store.get_story, write=False, story_id=story_id)
    assert story is not None
    now = rt.clock.now()
    nudge = await rt.tx(
        _ensure_week_nudge, team_id=story.team_id, channel=story.channel, week=story.week, now=now
    )
    if nudge.state == nudge_store.SENT and nudge.sent_ts:
        return await post_story(rt, story_id, thread_ts=nudge.sent_ts)
    assert nudge.id is not None
    state = await deliver(rt, nudge.id)
    if state == nudge_store.FAILED:
        failed = await rt.tx(
            store.week_nudge,
            write=False,
            team_id=story.team_id,
            channel=story.channel,
            week=story.week,
        )
        return (failed.last_error if failed else None) or "error"
    # Sent: its after-sent posted the waiting stories, ours among them. Held by another
    # worker (None) or pending again: that send's after-sent will.
    return None


def deal_options(deals: list[store.DealChoice]) -> list[msg.DealOption]:
    return [
        msg.DealOption(d.id, d.account, d.outcome, format_amount(d.amount, d.currency))
        for d in deals
    ]
