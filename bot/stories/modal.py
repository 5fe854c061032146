"""Opening the story modal: from `/loop story`, a thread's or an invitation's button, an
edit, and "Yes — share how" on a lesson's ask (which pre-fills the lesson). Here, not in
a ritual module, because both the stories and the lessons rituals open it."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Texts
from bot.messages import stories as msg
from bot.runtime import Runtime
from bot.slack.errors import api_error
from bot.stories.config import config_of
from bot.stories.thread import deal_options
from storage import lessons as lesson_store
from storage import stories as store
from storage.models import Story

log = logging.getLogger(__name__)


async def channel_name(rt: Runtime, channel: str) -> str:
    name = rt.channel_names.get(channel)
    if name:
        return name
    try:
        info = await rt.client.conversations_info(channel=channel)
        name = str(info["channel"].get("name") or "")
    except SlackApiError as e:
        log.info("conversations.info %s: %s", channel, api_error(e))
        return "stories"
    rt.channel_names[channel] = name
    return name or "stories"


async def lesson_options(rt: Runtime, team_id: str, user_id: str) -> list[msg.LessonOption]:
    found = await rt.tx(lesson_store.picker, write=False, team_id=team_id, viewer=user_id)
    return [msg.LessonOption(p.id, p.text, p.mine, p.owner_name) for p in found]


async def open_story_modal(
    rt: Runtime,
    client: AsyncWebClient,
    t: Texts,
    *,
    trigger_id: str,
    team_id: str,
    user_id: str,
    deal_id: int | None = None,
    story: Story | None = None,
    lesson: str = "",
    lesson_id: int | None = None,
) -> str | None:
    """Open the modal (a new story, or `story` to edit; `lesson` / `lesson_id` prefill
    the lesson). Returns the text to answer with instead, when it cannot open."""
    cfg = await config_of(rt, team_id)
    if cfg.channel is None and story is None:
        return t("stories.no_channel")
    deals = await rt.tx(store.rep_deals, write=False, team_id=team_id, rep=user_id)
    initial = msg.ModalInitial(
        lesson=lesson[: msg.LESSON_MAX], deal_id=deal_id, lesson_id=lesson_id
    )
    if story is not None:
        initial = msg.ModalInitial(
            story.lesson, story.did, story.happened, story.deal_id, story.share, story.lesson_id
        )
    channel = story.channel if story is not None else cfg.channel
    view = msg.story_modal(
        t,
        channel_name=f"#{await channel_name(rt, str(channel))}",
        deals=deal_options(deals),
        metadata={"story": story.id if story is not None else "", "user": user_id},
        initial=initial,
        lessons=await lesson_options(rt, team_id, user_id),
    )
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as e:
        log.warning("story modal did not open: %s", api_error(e))
        return t("errors.generic")
    return None
