"""App Home: what someone sees when they open the app — what they're working on, their
open loops, their recent deals and their own stories and, for a manager, the team's
latest deals and how many stories each rep shared lately.

The practice focus lives here too (App Home shows it): the "Set my focus" button (in
App Home and the evening DM), its modal, and "Make it my focus" beside a takeaway."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.clock import zone_of
from bot.messages import TeamMember, Texts
from bot.messages import focus as focus_msg
from bot.messages import manager as call_msg
from bot.messages import reflection as reflection_msg
from bot.messages import stories as story_msg
from bot.messages.blocks import VIEW_BLOCKS_MAX, Block, read_metadata
from bot.messages.deal_entry import problems_blocks
from bot.runtime import Runtime, rt_of
from bot.slack import ids
from bot.slack.dm import open_dm
from bot.slack.errors import api_error
from bot.slack.people import is_admin, load_person
from bot.stories.config import config_of
from handlers.common import DealClick, deal_button
from handlers.debrief_replies import tell
from handlers.loop_command import reader_texts
from storage import focus as focus_store
from storage.home import CallToMake, RepRecord, home_data
from storage.intake_problems import recent_problems
from storage.stories import MonthStory

log = logging.getLogger(__name__)


def team_member(record: RepRecord) -> TeamMember:
    last = record.last
    if last is None:
        return TeamMember(record.rep, stories=record.stories)
    return TeamMember(
        record.rep,
        last.account,
        last.outcome,
        last.created_at,
        **record.counts,
        stories=record.stories,
    )


def story_blocks(t: Texts, stories: list[MonthStory], *, can_share: bool) -> list[Block]:
    """The person's own stories (links to the thread): only ever their own Home."""
    entries = [
        story_msg.MonthEntry(s.rep, s.lesson, s.permalink, s.account, s.share, None, None)
        for s in stories
    ]
    return story_msg.home_stories(t, entries, can_share=can_share)


def call_blocks(t: Texts, calls: list[CallToMake], tz: str | None) -> list[Block]:
    blocks: list[Block] = []
    for call in calls:
        when = call.asked_at.astimezone(zone_of(tz)).strftime("%Y-%m-%d") if call.asked_at else ""
        blocks += call_msg.home_call(
            t, deal_id=call.deal_id, account=call.account, rep=call.rep, date=when
        )
    return blocks


async def publish_home(rt: Runtime, team_id: str, user_id: str) -> None:
    try:
        person = await load_person(rt, team_id=team_id, user_id=user_id)
    except SlackApiError as e:
        # A user Slack cannot describe (deleted, or an id from a forged event) has no
        # Home to draw: one line, no traceback.
        log.warning("no App Home for %s: %s", user_id, api_error(e))
        return
    data = await rt.tx(home_data, write=False, team_id=team_id, user_id=user_id, now=rt.clock.now())
    focus = await rt.tx(
        focus_store.current_focus_text, write=False, team_id=team_id, user_id=user_id
    )
    t = Texts(rt.catalog, person.locale)
    stories_channel = (await config_of(rt, team_id)).channel
    view = messages.home_view(
        t,
        data.deals,
        tz=person.tz,
        concerns=data.concerns,
        open_debriefs=data.open_debriefs,
        team=[team_member(r) for r in data.team],
        calls=call_blocks(t, data.calls, person.tz),
        now=rt.clock.now(),
        focus=focus_msg.home_blocks(t, focus),
        stories=story_blocks(t, data.stories, can_share=stories_channel is not None),
    )
    if await rt.db(is_admin, rt, team_id, person):
        # Deals a CRM or a workflow sent that reached no rep: never dropped silently.
        problems = await rt.tx(recent_problems, write=False, team_id=team_id)
        extra = problems_blocks(t, problems, tz=person.tz)
        view["blocks"] = (view["blocks"] + extra)[:VIEW_BLOCKS_MAX]
    await rt.client.views_publish(user_id=user_id, view=view)


async def on_home_opened(
    event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
) -> None:
    user = event.get("user")
    if event.get("tab") != "home" or not user or not isinstance(user, str):
        return
    rt = rt_of(context)
    team_id = str(body.get("team_id") or rt.team_id or "")
    rt.spawn(publish_home(rt, team_id, user), name="home")


# --- the practice focus -------------------------------------------------------------------


def _who(body: dict[str, Any], rt: Runtime) -> tuple[str, str]:
    team = body.get("team") or {}
    user = body.get("user") or {}
    return str(team.get("id") or user.get("team_id") or rt.team_id or ""), str(user.get("id") or "")


def _reflection_date(body: dict[str, Any]) -> str | None:
    """The evening DM's local date (its "Reflect now" button's value), so the DM can be
    redrawn naming the new focus."""
    for block in (body.get("message") or {}).get("blocks") or []:
        for element in block.get("elements") or [] if isinstance(block, dict) else []:
            if isinstance(element, dict) and element.get("action_id") == ids.REFLECT_OPEN:
                return str(element.get("value") or "") or None
    return None


async def _open_focus(rt: Runtime, client: AsyncWebClient, body: dict[str, Any]) -> None:
    team_id, user_id = _who(body, rt)
    t = await reader_texts(rt, team_id, user_id)
    current = await rt.tx(
        focus_store.current_focus_text, write=False, team_id=team_id, user_id=user_id
    )
    action = (body.get("actions") or [{}])[0]
    container = body.get("container") or {}
    where = (
        ids.FOCUS_FROM_REFLECTION if action.get("value") == ids.FOCUS_FROM_REFLECTION else "home"
    )
    meta: dict[str, Any] = {"from": where, "user": user_id}
    if where == ids.FOCUS_FROM_REFLECTION:
        meta |= {
            "channel": container.get("channel_id"),
            "ts": container.get("message_ts"),
            "date": _reflection_date(body),
        }
    view = focus_msg.focus_modal(t, current=current, metadata=meta)
    # Opened from here, not spawned again: this already runs after the ack.
    try:
        await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
    except SlackApiError as e:
        log.warning("focus modal did not open: %s", api_error(e))


async def on_focus_open(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)
    rt.spawn(_open_focus(rt, client, body), name="focus-open")


async def _redraw_evening_dm(
    rt: Runtime, client: AsyncWebClient, t: Texts, meta: dict[str, Any], focus: str | None
) -> bool:
    """The evening DM, asked again about the new focus; False when there is none to redraw."""
    channel, ts, day = meta.get("channel"), meta.get("ts"), meta.get("date")
    if not (channel and ts and day):
        return False
    built = reflection_msg.reflection_dm(t, local_date=str(day), focus=focus)
    try:
        await client.chat_update(channel=str(channel), ts=str(ts), **built.as_kwargs())
    except SlackApiError as e:
        log.warning("evening DM not redrawn: %s", api_error(e))
        return False
    return True


async def _save_focus(rt: Runtime, client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
    team_id, user_id = _who(body, rt)
    meta = read_metadata(body.get("view") or {})
    from_reflection = meta.get("from") == ids.FOCUS_FROM_REFLECTION
    row = await rt.tx(
        focus_store.set_focus,
        team_id=team_id,
        user_id=user_id,
        text=text,
        source="reflection" if from_reflection else "home",
        now=rt.clock.now(),
    )
    focus = row.text if row else None
    t = await reader_texts(rt, team_id, user_id)
    # Only the rep the modal was opened for ever touches that DM.
    mine = meta.get("user") == user_id
    if from_reflection and mine and await _redraw_evening_dm(rt, client, t, meta, focus):
        return  # the evening DM now names the new focus: that is the confirmation
    if from_reflection:
        channel = await open_dm(rt, team_id, user_id, client=client)
        built = focus_msg.focus_saved(t, focus)
        await client.chat_postMessage(channel=channel, **built.as_kwargs())
        return
    await publish_home(rt, team_id, user_id)


async def on_focus_submit(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)
    text = focus_msg.read_focus((body.get("view") or {}).get("state") or {})
    rt.spawn(_save_focus(rt, client, body, text), name="focus-save")


@deal_button("focus-from-takeaway")
async def on_focus_from_takeaway(c: DealClick) -> None:
    """One click: the takeaway (read from the logged debrief, never from the button)
    becomes the practice focus."""
    step = c.click.step
    items = focus_msg.takeaway_items(str((c.state.data.client or {}).get("takeaways") or ""))
    if not step.isdigit() or int(step) >= len(items):
        await tell(c.respond, c.t("focus.takeaway_gone"))
        return
    row = await c.rt.tx(
        focus_store.set_focus,
        team_id=c.click.team_id,
        user_id=c.click.user_id,
        text=items[int(step)],
        source="takeaway",
        deal_id=c.deal_id,
        now=c.rt.clock.now(),
    )
    await tell(c.respond, focus_msg.focus_saved(c.t, row.text if row else None).text)


def register(app: AsyncApp, rt: Runtime) -> None:
    app.event("app_home_opened")(on_home_opened)
    app.action(ids.FOCUS_OPEN)(on_focus_open)
    app.view(ids.FOCUS_MODAL)(on_focus_submit)
    app.action(ids.FOCUS_FROM_TAKEAWAY)(on_focus_from_takeaway)
