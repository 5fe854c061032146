"""Story sharing (seed 004): a stories channel with one thread a week, stories shared in
it (from `/loop story`, the thread's button, an invitation after a win, or typed in the
thread), the monthly post that tells the team what the stories added up to, and the
invitation to reps who won a deal and told no story of it.

This module holds the Slack listeners (the modals, the buttons, replies typed in the
thread, `/loop story`, `/loop settings stories`). Below them, in bot/stories:
- config: the channel, its language and the workspace's zone (STORIES_CHANNEL,
  STORIES_LANGUAGE, WORKSPACE_TZ, overridden by an admin's `/loop settings stories ...`,
  stored in the database and read on every use, so a change applies at once everywhere);
- planning: the week's prompt and the month's post are nudges posted to the channel
  (kinds with `to_channel`), planned at every dispatcher tick, so they are durable,
  claimed once and sent once whatever the number of dispatchers;
- thread: a story is a row first (`waiting`), then posted in the week's thread; with no
  thread yet, the week's prompt is brought forward and sent now.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import zone_of
from bot.messages import Texts
from bot.messages import stories as msg
from bot.messages.blocks import read_metadata
from bot.nudges.registry import NudgeKind
from bot.nudges.story_schedule import this_week
from bot.runtime import Runtime, rt_of
from bot.settings import STORY_LANGUAGES, valid_zone
from bot.slack import ids
from bot.slack.dm import open_dm
from bot.slack.errors import api_error
from bot.slack.people import is_admin, load_person
from bot.stories import modal, planning
from bot.stories.config import config_of, resolve_name
from bot.stories.thread import deal_options, permalink, share, story_message, tell
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from storage import lessons as lesson_store
from storage import stories as store
from storage.models import Lesson, Story

log = logging.getLogger(__name__)

REACTION = "sparkles"
LANGUAGE_NAMES = {"en": "English", "es": "español", "fr": "français"}
_CHANNEL_REF = re.compile(r"^<#([CG][A-Z0-9]{2,})(?:\|[^>]*)?>$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_CHANNEL_NAME = re.compile(r"^#?([a-z0-9][a-z0-9_\-]{0,79})$")


# --- the story modal -------------------------------------------------------------------------


async def open_story_modal(
    rt: Runtime,
    client: AsyncWebClient,
    *,
    trigger_id: str,
    team_id: str,
    user_id: str,
    deal_id: int | None = None,
    story: Story | None = None,
    lesson: str = "",
) -> str | None:
    t = await reader_texts(rt, team_id, user_id)
    return await modal.open_story_modal(
        rt,
        client,
        t,
        trigger_id=trigger_id,
        team_id=team_id,
        user_id=user_id,
        deal_id=deal_id,
        story=story,
        lesson=lesson,
    )


def _value(view: dict[str, Any], block: str) -> str:
    state = ((view.get("state") or {}).get("values") or {}).get(block) or {}
    field = state.get("v") or {}
    if field.get("type") == "static_select":
        return str((field.get("selected_option") or {}).get("value") or "")
    return str(field.get("value") or "").strip()


@dataclass(frozen=True)
class Answers:
    lesson: str
    did: str
    happened: str
    deal_id: int | None
    share: int | None
    lesson_id: int | None = None


def _read_deal_and_share(
    view: dict[str, Any], t: Texts
) -> tuple[int | None, int | None, dict[str, str]]:
    errors: dict[str, str] = {}
    raw_deal, raw_share = _value(view, ids.STORY_DEAL), _value(view, ids.STORY_SHARE_FIELD)
    deal_id = int(raw_deal) if raw_deal.isdigit() and len(raw_deal) < 10 else None
    if raw_deal and deal_id is None:
        errors[ids.STORY_DEAL] = t("stories.error_deal_not_yours")
    share: int | None = None
    if raw_share:
        if re.fullmatch(r"\d{1,3}", raw_share) and int(raw_share) <= 100:
            share = int(raw_share)
        else:
            errors[ids.STORY_SHARE_FIELD] = t("stories.error_share_range")
    if share is not None and not raw_deal and ids.STORY_SHARE_FIELD not in errors:
        errors[ids.STORY_SHARE_FIELD] = t("stories.error_share_no_deal")
    if deal_id is not None and not raw_share:
        errors[ids.STORY_SHARE_FIELD] = t("stories.error_share_missing")
    return deal_id, share, errors


def read_answers(view: dict[str, Any], t: Texts) -> tuple[Answers, dict[str, str]]:
    errors = {
        block: t("stories.error_required")
        for block in (ids.STORY_DID, ids.STORY_HAPPENED)
        if not _value(view, block)
    }
    raw_pick = _value(view, ids.STORY_LESSON_PICK)
    lesson_id = int(raw_pick) if raw_pick.isdigit() and len(raw_pick) < 10 else None
    if raw_pick and lesson_id is None:
        errors[ids.STORY_LESSON_PICK] = t("lessons.error_story_pick")
    if not _value(view, ids.STORY_LESSON) and not raw_pick:
        with_picker = any(
            b.get("block_id") == ids.STORY_LESSON_PICK for b in view.get("blocks") or []
        )
        key = "lessons.error_story_lesson" if with_picker else "stories.error_required"
        errors[ids.STORY_LESSON] = t(key)
    deal_id, share, more = _read_deal_and_share(view, t)
    errors.update(more)
    answers = Answers(
        _value(view, ids.STORY_LESSON)[: msg.LESSON_MAX],
        _value(view, ids.STORY_DID)[: msg.STORY_MAX],
        _value(view, ids.STORY_HAPPENED)[: msg.STORY_MAX],
        deal_id,
        share,
        lesson_id,
    )
    return answers, errors


async def _picked_lesson(
    rt: Runtime, team_id: str, user_id: str, answers: Answers
) -> tuple[Answers, Lesson | None] | None:
    """The picked lesson when the rep may use it (theirs, or a teammate's shared one),
    its words standing in for an empty lesson field; None for a lesson they may not
    pick (another rep's private one, or a forged id)."""
    if answers.lesson_id is None:
        return answers, None
    row = await rt.tx(
        lesson_store.visible_lesson,
        write=False,
        team_id=team_id,
        viewer=user_id,
        lesson_id=answers.lesson_id,
    )
    if row is None:
        return None
    lesson = answers.lesson or row.text[: msg.LESSON_MAX]
    return replace(answers, lesson=lesson), row


def _team(body: dict[str, Any], rt: Runtime) -> str:
    team = body.get("team") or {}
    user = body.get("user") or {}
    return str(team.get("id") or user.get("team_id") or rt.team_id or "")


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


async def _save_new(rt: Runtime, team_id: str, user_id: str, a: Answers) -> None:
    cfg = await config_of(rt, team_id)
    t = await reader_texts(rt, team_id, user_id)
    if cfg.channel is None:
        await _dm(rt, team_id, user_id, t("stories.no_channel"))
        return
    now = rt.clock.now()
    week, _ = this_week(now, zone_of(cfg.tz))
    story = Story(
        team_id=team_id,
        rep_slack_id=user_id,
        week=week,
        source="modal",
        channel=cfg.channel,
        lang=cfg.language,
        lesson=a.lesson,
        did=a.did,
        happened=a.happened,
        deal_id=a.deal_id,
        share=a.share,
        lesson_id=a.lesson_id,
        state=store.WAITING,
        created_at=now,
        updated_at=now,
    )
    saved = await rt.tx(store.add_story, story=story)
    assert saved.id is not None
    error = await share(rt, saved.id)
    if error is not None:
        await _dm(rt, team_id, user_id, t("stories.post_failed", channel=cfg.channel, error=error))


async def _dm(rt: Runtime, team_id: str, user_id: str, text: str) -> None:
    channel = await open_dm(rt, team_id, user_id)
    await rt.client.chat_postMessage(channel=channel, text=text)


async def _save_edit(rt: Runtime, team_id: str, user_id: str, story_id: int, a: Answers) -> None:
    t = await reader_texts(rt, team_id, user_id)
    before = await rt.tx(store.get_story, write=False, story_id=story_id)
    if before is None or before.state == store.DELETED:
        # Deleted while the edit was open: nothing to bring back.
        await _dm(rt, team_id, user_id, t("stories.gone"))
        return
    story = await rt.tx(
        store.update_story,
        story_id=story_id,
        now=rt.clock.now(),
        lesson=a.lesson,
        did=a.did,
        happened=a.happened,
        deal_id=a.deal_id,
        share=a.share,
        lesson_id=a.lesson_id,
    )
    if story is None:
        return
    # A lesson picked while editing credits its owner too (once per story).
    await rt.tx(lesson_store.credit_after_post, story_id=story_id, now=rt.clock.now())
    if story.state == store.POSTED and story.ts and story.source == "modal":
        built = await story_message(rt, story)
        try:
            await rt.client.chat_update(channel=story.channel, ts=story.ts, **built.as_kwargs())
        except SlackApiError as e:
            log.warning("story %s: chat.update failed: %s", story_id, api_error(e))
    await tell(rt, story.channel, user_id, t("stories.edited"), story.thread_ts)


async def _deal_is_theirs(rt: Runtime, team_id: str, user_id: str, deal_id: int | None) -> bool:
    if deal_id is None:
        return True
    return await rt.tx(
        store.is_rep_deal, write=False, team_id=team_id, rep=user_id, deal_id=deal_id
    )


async def on_story_submit(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    rt = rt_of(context)
    view = body.get("view") or {}
    team_id, user_id = _team(body, rt), _user(body)
    t = await reader_texts(rt, team_id, user_id)
    answers, errors = read_answers(view, t)
    if not errors and not await _deal_is_theirs(rt, team_id, user_id, answers.deal_id):
        errors[ids.STORY_DEAL] = t("stories.error_deal_not_yours")
    picked = None if errors else await _picked_lesson(rt, team_id, user_id, answers)
    if picked is None and not errors:
        errors[ids.STORY_LESSON_PICK] = t("lessons.error_story_pick")
    if picked is not None:
        answers = picked[0]
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    meta = read_metadata(view)
    story_id = str(meta.get("story") or "")
    if story_id.isdigit():
        rt.spawn(
            _save_edit(rt, team_id, user_id, int(story_id), answers), name=f"story-edit:{user_id}"
        )
    else:
        rt.spawn(_save_new(rt, team_id, user_id, answers), name=f"story-new:{user_id}")


# --- the link modal (a story typed in the thread) ------------------------------------------------


async def on_link_submit(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    rt = rt_of(context)
    view = body.get("view") or {}
    team_id, user_id = _team(body, rt), _user(body)
    t = await reader_texts(rt, team_id, user_id)
    deal_id, share_value, errors = _read_deal_and_share(view, t)
    if deal_id is None and ids.STORY_DEAL not in errors:
        errors[ids.STORY_DEAL] = t("stories.error_deal_not_yours")
    if not errors and not await _deal_is_theirs(rt, team_id, user_id, deal_id):
        errors[ids.STORY_DEAL] = t("stories.error_deal_not_yours")
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    story_id = int(str(read_metadata(view).get("story") or "0") or 0)

    async def save() -> None:
        story = await rt.tx(
            store.update_story,
            story_id=story_id,
            now=rt.clock.now(),
            deal_id=deal_id,
            share=share_value,
        )
        if story is not None:
            await tell(rt, story.channel, user_id, t("stories.linked"), story.thread_ts)

    rt.spawn(save(), name=f"story-link:{user_id}")


# --- buttons -------------------------------------------------------------------------------------


def _action_value(body: dict[str, Any]) -> str:
    return str(((body.get("actions") or [{}])[0]).get("value") or "")


async def _open_from_click(
    rt: Runtime,
    client: AsyncWebClient,
    respond: AsyncRespond,
    body: dict[str, Any],
    *,
    deal_id: int | None = None,
    story: Story | None = None,
) -> None:
    team_id, user_id = _team(body, rt), _user(body)
    problem = await open_story_modal(
        rt,
        client,
        trigger_id=str(body.get("trigger_id") or ""),
        team_id=team_id,
        user_id=user_id,
        deal_id=deal_id,
        story=story,
    )
    if problem is not None and body.get("response_url"):
        await respond(text=problem, response_type="ephemeral", replace_original=False)


async def on_share(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    await ack()
    rt = rt_of(context)
    rt.spawn(_open_from_click(rt, client, respond, body), name=f"story-open:{_user(body)}")


async def on_invite_share(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    await ack()
    rt = rt_of(context)
    value = _action_value(body)
    deal_id = int(value) if value.isdigit() and len(value) < 10 else None
    rt.spawn(
        _open_from_click(rt, client, respond, body, deal_id=deal_id),
        name=f"story-invite-open:{_user(body)}",
    )


async def _story_of_click(rt: Runtime, body: dict[str, Any]) -> Story | None:
    value = _action_value(body)
    if not value.isdigit() or len(value) >= 10:
        return None
    story = await rt.tx(store.get_story, write=False, story_id=int(value))
    if story is None or story.state == store.DELETED:
        return None
    return story


async def on_edit(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    await ack()
    rt = rt_of(context)

    async def work() -> None:
        story = await _story_of_click(rt, body)
        if story is None:
            t = await reader_texts(rt, _team(body, rt), _user(body))
            await respond(text=t("stories.gone"), response_type="ephemeral", replace_original=False)
            return
        if story.source == "typed":
            await _open_link(rt, client, body, story)
            return
        await _open_from_click(rt, client, respond, body, story=story)

    rt.spawn(work(), name=f"story-edit-open:{_user(body)}")


async def _delete(rt: Runtime, respond: AsyncRespond, body: dict[str, Any]) -> None:
    t = await reader_texts(rt, _team(body, rt), _user(body))
    story = await _story_of_click(rt, body)
    if story is None:
        await respond(text=t("stories.gone"), response_type="ephemeral", replace_original=False)
        return
    assert story.id is not None
    if story.source == "modal" and story.ts:
        try:
            await rt.client.chat_delete(channel=story.channel, ts=story.ts)
        except SlackApiError as e:
            if api_error(e) != "message_not_found":
                log.warning("story %s: chat.delete failed: %s", story.id, api_error(e))
                await respond(
                    text=t("errors.generic"), response_type="ephemeral", replace_original=False
                )
                return
    await rt.tx(store.update_story, story_id=story.id, now=rt.clock.now(), state=store.DELETED)
    await respond(text=t("stories.deleted"), response_type="ephemeral", replace_original=False)


async def on_delete(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)
    rt.spawn(_delete(rt, respond, body), name=f"story-delete:{_user(body)}")


async def _open_link(
    rt: Runtime, client: AsyncWebClient, body: dict[str, Any], story: Story
) -> None:
    team_id, user_id = _team(body, rt), _user(body)
    t = await reader_texts(rt, team_id, user_id)
    deals = await rt.tx(store.rep_deals, write=False, team_id=team_id, rep=user_id)
    view = msg.link_modal(
        t,
        deals=deal_options(deals),
        metadata={"story": story.id, "user": user_id},
        initial=msg.ModalInitial(deal_id=story.deal_id, share=story.share),
    )
    try:
        await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
    except SlackApiError as e:
        log.warning("link modal did not open: %s", api_error(e))


async def on_link(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)

    async def work() -> None:
        story = await _story_of_click(rt, body)
        if story is not None:
            await _open_link(rt, client, body, story)

    rt.spawn(work(), name=f"story-link-open:{_user(body)}")


async def on_not_story(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)

    async def work() -> None:
        t = await reader_texts(rt, _team(body, rt), _user(body))
        story = await _story_of_click(rt, body)
        if story is not None and story.id is not None:
            await rt.tx(
                store.update_story, story_id=story.id, now=rt.clock.now(), state=store.DELETED
            )
        await respond(
            text=t("stories.not_story_done"), response_type="ephemeral", replace_original=False
        )

    rt.spawn(work(), name=f"story-not:{_user(body)}")


# --- a story typed in the thread -----------------------------------------------------------------


async def is_thread_story(event: dict[str, Any]) -> bool:
    """Cheap, before the ack: a person's reply in a thread of a channel. Whether it is
    this week's stories thread is looked up after the ack."""
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts"):
        return False
    if event.get("subtype") is not None or event.get("bot_id") or not event.get("user"):
        return False
    return str(event.get("channel") or "")[:1] in ("C", "G")


async def _take_typed(rt: Runtime, body: dict[str, Any], event: dict[str, Any]) -> None:
    team_id = str(body.get("team_id") or event.get("team") or rt.team_id or "")
    channel, ts = str(event.get("channel")), str(event.get("ts"))
    user = str(event.get("user"))
    cfg = await config_of(rt, team_id)
    if cfg.channel != channel:
        return
    thread = await rt.tx(
        store.thread_of,
        write=False,
        team_id=team_id,
        channel=channel,
        thread_ts=str(event["thread_ts"]),
    )
    if thread is None:
        return
    week, thread_ts = thread
    text = str(event.get("text") or "")
    now = rt.clock.now()
    story = Story(
        team_id=team_id,
        rep_slack_id=user,
        week=week,
        source="typed",
        channel=channel,
        thread_ts=thread_ts,
        ts=ts,
        lang=cfg.language,
        lesson=(text.strip().splitlines() or [""])[0][: msg.LESSON_MAX],
        text=text[:4000],
        state=store.POSTED,
        created_at=now,
        updated_at=now,
    )
    saved = await rt.tx(store.add_typed_story, story=story)
    if saved is None or saved.id is None:
        return  # seen already: Slack redelivered the event
    try:
        await rt.client.reactions_add(channel=channel, timestamp=ts, name=REACTION)
    except SlackApiError as e:
        if api_error(e) != "already_reacted":
            log.info("could not react to a story: %s", api_error(e))
    link = await permalink(rt, channel, ts)
    if link:
        await rt.tx(store.set_permalink, story_id=saved.id, permalink=link)
    t = await reader_texts(rt, team_id, user)
    offer = msg.link_offer(t, saved.id)
    try:
        await rt.client.chat_postEphemeral(
            channel=channel, user=user, thread_ts=thread_ts, **offer.as_kwargs()
        )
    except SlackApiError as e:
        log.info("could not offer a link to %s: %s", user, api_error(e))


async def is_thread_change(event: dict[str, Any]) -> bool:
    """A person's edit or deletion of a message in a channel thread (cheap, before the ack)."""
    subtype = event.get("subtype")
    if subtype not in ("message_changed", "message_deleted"):
        return False
    before = event.get("previous_message") or {}
    thread_ts = before.get("thread_ts")
    return bool(thread_ts) and thread_ts != before.get("ts") and not before.get("bot_id")


async def _typed_changed(rt: Runtime, body: dict[str, Any], event: dict[str, Any]) -> None:
    """The rep edited or deleted the story they typed: the story follows."""
    team_id = str(body.get("team_id") or rt.team_id or "")
    channel = str(event.get("channel") or "")
    before = event.get("previous_message") or {}
    story = await rt.tx(
        store.story_at, write=False, team_id=team_id, channel=channel, ts=str(before.get("ts"))
    )
    if story is None or story.id is None or story.source != "typed":
        return
    now = rt.clock.now()
    if event.get("subtype") == "message_deleted":
        await rt.tx(store.update_story, story_id=story.id, now=now, state=store.DELETED)
        return
    text = str((event.get("message") or {}).get("text") or "")
    lesson = (text.strip().splitlines() or [""])[0][: msg.LESSON_MAX]
    await rt.tx(store.update_story, story_id=story.id, now=now, text=text[:4000], lesson=lesson)


async def on_thread_message(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    rt = rt_of(context)
    rt.spawn(_take_typed(rt, body, event), name=f"story-typed:{body.get('event_id')}")


async def on_thread_change(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    rt = rt_of(context)
    rt.spawn(_typed_changed(rt, body, event), name=f"story-changed:{body.get('event_id')}")


# --- /loop story and /loop settings stories -------------------------------------------------------


async def story_command(call: CommandCall) -> None:
    if call.args.strip().lower() in ("help", "?"):
        await call.reply(call.t("stories.usage"))
        return
    await call.ack()
    rt = call.rt

    async def work() -> None:
        problem = None
        if call.trigger_id:
            # `/loop story Ask for the go-live date` starts the modal with that lesson.
            problem = await open_story_modal(
                rt,
                call.client,
                trigger_id=call.trigger_id,
                team_id=call.team_id,
                user_id=call.user_id,
                lesson=call.args.strip(),
            )
        if problem is not None:
            await call.respond(text=problem, response_type="ephemeral")

    rt.spawn(work(), name=f"story-command:{call.user_id}")


def _parse_channel(word: str) -> tuple[str | None, str | None]:
    """(id, name) from `<#C123|name>`, `C123` or `#name`."""
    ref = _CHANNEL_REF.match(word)
    if ref:
        return ref.group(1), None
    if _CHANNEL_ID.match(word):
        return word, None
    name = _CHANNEL_NAME.match(word.lower())
    if name and word.startswith("#"):
        return None, name.group(1)
    return None, None


async def _set_channel(call: CommandCall, word: str, t: Texts) -> str:
    rt = call.rt
    channel_id, name = _parse_channel(word)
    if channel_id is None and name is None:
        return t("stories.settings_bad", word=word[:40])
    if channel_id is None:
        assert name is not None
        channel_id = await resolve_name(rt, name)
        if channel_id is None:
            return t("stories.settings_not_found", channel=f"#{name}")
    try:
        info = (await rt.client.conversations_info(channel=channel_id))["channel"]
    except SlackApiError as e:
        log.info("settings stories: conversations.info %s: %s", channel_id, api_error(e))
        return t("stories.settings_not_found", channel=word[:80])
    if not info.get("is_member", True):
        if info.get("is_private"):
            return t("stories.settings_not_member", channel=f"<#{channel_id}>")
        try:
            await rt.client.conversations_join(channel=channel_id)
        except SlackApiError as e:
            log.warning("could not join %s: %s", channel_id, api_error(e))
            return t("stories.settings_not_member", channel=f"<#{channel_id}>")
    rt.channel_names[channel_id] = str(info.get("name") or "")
    await _put(call, store.CHANNEL, {"id": channel_id})
    cfg = await config_of(rt, call.team_id)
    return t("stories.settings_set", channel=channel_id, tz=cfg.tz)


async def _put(call: CommandCall, key: str, value: dict[str, Any]) -> None:
    await call.rt.tx(
        store.put_setting,
        team_id=call.team_id,
        key=key,
        value=value,
        by=call.user_id,
        now=call.rt.clock.now(),
    )


async def _change(call: CommandCall, words: list[str], t: Texts) -> str:
    verb = words[0].lower()
    if verb in ("off", "none"):
        await _put(call, store.CHANNEL, {"id": None})
        return t("stories.settings_off")
    if verb in ("language", "lang", "idioma", "langue"):
        lang = words[1].lower() if len(words) > 1 else ""
        if lang not in STORY_LANGUAGES:
            return t("stories.settings_language_bad", word=lang[:20])
        await _put(call, store.LANGUAGE, {"value": lang})
        return t("stories.settings_language_set", language=LANGUAGE_NAMES[lang])
    if verb in ("timezone", "tz", "time-zone"):
        zone = words[1] if len(words) > 1 else ""
        if not valid_zone(zone):
            return t("stories.settings_tz_bad", word=zone[:40])
        await _put(call, store.TIMEZONE, {"value": zone})
        return t("stories.settings_tz_set", tz=zone)
    return await _set_channel(call, words[0], t)


async def settings_stories(call: CommandCall) -> None:
    """`/loop settings stories [#channel | off | language xx | timezone Zone]`."""
    await call.ack()
    rt = call.rt

    async def work() -> None:
        person = await load_person(rt, team_id=call.team_id, user_id=call.user_id)
        t = Texts(rt.catalog, person.locale)
        words = call.args.split()
        if not words:
            cfg = await config_of(rt, call.team_id)
            text = msg.settings_lines(
                t,
                channel=cfg.channel or (rt.settings.stories_channel if cfg.from_env else None),
                language=LANGUAGE_NAMES.get(cfg.language, cfg.language),
                tz=cfg.tz,
                from_env=cfg.from_env,
            )
        elif not await rt.db(is_admin, rt, call.team_id, person):
            text = t("errors.admin_only")
        else:
            text = await _change(call, words, t)
        await call.respond(text=text, response_type="ephemeral")

    rt.spawn(work(), name=f"settings-stories:{call.user_id}")


def register_messages(app: AsyncApp) -> None:
    """Before the catch-all for other messages: Bolt runs the first listener that matches."""
    app.event("message", matchers=[is_thread_story])(on_thread_message)
    app.event("message", matchers=[is_thread_change])(on_thread_change)


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("story", story_command, help_key="help.line_story")
    commands.settings_topics["stories"] = settings_stories
    app.action(ids.STORY_SHARE)(on_share)
    app.action(ids.STORY_INVITE_SHARE)(on_invite_share)
    app.action(ids.STORY_EDIT)(on_edit)
    app.action(ids.STORY_DELETE)(on_delete)
    app.action(ids.STORY_LINK)(on_link)
    app.action(ids.STORY_NOT_STORY)(on_not_story)
    app.view(ids.STORY_MODAL)(on_story_submit)
    app.view(ids.STORY_LINK_MODAL)(on_link_submit)


NUDGE_KINDS = (
    NudgeKind(
        store.STORIES_WEEK,
        planning.render_week,
        planning.after_week,
        planning.WEEK_POLICY,
        to_channel=True,
    ),
    NudgeKind(
        store.STORIES_MONTH,
        planning.render_month,
        policy=planning.MONTH_POLICY,
        to_channel=True,
    ),
    NudgeKind(store.STORY_INVITE, planning.render_invite, policy=planning.INVITE_POLICY),
)
PLANNERS = (planning.make_planner,)
