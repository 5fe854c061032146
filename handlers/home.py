"""App Home: what someone sees when they open the app — what they're working on, their
open loops, their recent deals and their own stories and, for a manager, the team's
latest deals and how many stories each rep shared lately.

The practice focus lives here too (App Home shows it): the "Set my focus" button (in
App Home and the evening DM), its modal, and "Make it my focus" beside a takeaway."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot import workspace_settings as ws
from bot.clock import zone_of
from bot.messages import TeamMember, Texts
from bot.messages import focus as focus_msg
from bot.messages import lessons as lessons_msg
from bot.messages import manager as call_msg
from bot.messages import reasons as reasons_msg
from bot.messages import reflection as reflection_msg
from bot.messages import settings as settings_msg
from bot.messages import stories as story_msg
from bot.messages.blocks import VIEW_BLOCKS_MAX, Block, read_metadata
from bot.messages.deal_entry import problems_blocks
from bot.runtime import Runtime, rt_of
from bot.slack import ids
from bot.slack.dm import open_dm
from bot.slack.errors import api_error
from bot.slack.people import is_admin, load_person, person_within
from bot.stories.config import config_of, resolve_name
from bot.stories.thread import ensure_member
from bot.workspace_settings import Submitted, changed_values, effective, read_form
from handlers.common import DealClick, deal_button
from handlers.debrief_replies import tell
from handlers.loop_command import reader_texts
from storage import focus as focus_store
from storage import lessons as lesson_store
from storage import stories as stories_store
from storage.home import CallToMake, RepRecord, guess_vs_reason, home_data
from storage.intake_problems import recent_problems
from storage.models import Lesson
from storage.people import get_person
from storage.quiet import workspace_holidays
from storage.stories import MonthStory
from storage.workspace_settings import SettingsChange, granted_admins, save_settings

log = logging.getLogger(__name__)


def team_member(record: RepRecord) -> TeamMember:
    last = record.last
    if last is None:
        return TeamMember(
            record.rep, stories=record.stories, pending=record.pending, streak=record.streak
        )
    return TeamMember(
        record.rep,
        last.account,
        last.outcome,
        last.created_at,
        **record.counts,
        stories=record.stories,
        pending=record.pending,
        streak=record.streak,
    )


def story_blocks(t: Texts, stories: list[MonthStory], *, can_share: bool) -> list[Block]:
    """The person's own stories (links to the thread): only ever their own Home."""
    entries = [
        story_msg.MonthEntry(s.rep, s.lesson, s.permalink, s.account, s.share, None, None)
        for s in stories
    ]
    return story_msg.home_stories(t, entries, can_share=can_share)


async def guess_blocks(rt: Runtime, t: Texts, team_id: str, user_id: str) -> list[Block]:
    """The person's own guesses against their clients' reasons, by kind (never the words);
    nothing for someone with no loss debrief. Read for `user_id` only: whoever else opens
    their Home, a manager included, never sees another rep's guesses here."""
    found = await rt.tx(guess_vs_reason, write=False, team_id=team_id, user_id=user_id)
    if not found.losses:
        return []
    rows = [reasons_msg.Compared(account, guess, reason) for account, guess, reason in found.rows]
    return reasons_msg.home_blocks(t, rows, agreed=found.agreed, compared=found.compared)


def call_blocks(t: Texts, calls: list[CallToMake], tz: str | None) -> list[Block]:
    blocks: list[Block] = []
    for call in calls:
        when = call.asked_at.astimezone(zone_of(tz)).strftime("%Y-%m-%d") if call.asked_at else ""
        blocks += call_msg.home_call(
            t, deal_id=call.deal_id, account=call.account, rep=call.rep, date=when
        )
    return blocks


def lesson_blocks(t: Texts, kept: list[Lesson]) -> list[Block]:
    """The rep's own lessons, private and shared (only theirs: a teammate's shared lesson
    shows where it is useful, in prep and the story modal)."""
    if not kept:
        return []
    lines = [lessons_msg.LessonLine(k.text, k.shared, k.state == "tried", k.account) for k in kept]
    return lessons_msg.home_blocks(t, lines)


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
    kept = await rt.tx(lesson_store.own_lessons, write=False, team_id=team_id, owner=user_id)
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
        focus=[*focus_msg.home_blocks(t, focus), *lesson_blocks(t, kept)],
        stories=story_blocks(t, data.stories, can_share=stories_channel is not None),
    )
    mine = await guess_blocks(rt, t, team_id, user_id)
    view["blocks"] = (view["blocks"] + mine)[:VIEW_BLOCKS_MAX]
    if await rt.db(is_admin, rt, team_id, person):
        # The workspace's settings, with the button that changes them; then deals a CRM
        # or a workflow sent that reached no rep: never dropped silently.
        shown = await shown_settings(rt, team_id, resolve=False)
        problems = await rt.tx(recent_problems, write=False, team_id=team_id)
        extra = settings_msg.home_blocks(t, shown) + problems_blocks(t, problems, tz=person.tz)
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


# --- the workspace settings (admins) ------------------------------------------------------

# What resolving DEALS_CHANNELS #names may take, in all, while a modal waits to open
# (its trigger lasts 3 seconds), and what checking newly chosen channels may take in
# the ack.
RESOLVE_BUDGET = 1.0
CHECK_BUDGET = 1.2


async def _name_to_id(rt: Runtime, name: str) -> str | None:
    for channel_id, known in rt.channel_names.items():
        if known == name:
            return channel_id
    found = await resolve_name(rt, name)
    if found is not None:
        rt.channel_names[found] = name
    return found


async def _deals_ids(
    rt: Runtime, channels: tuple[str, ...], *, resolve: bool
) -> tuple[list[str], list[str]]:
    """The deals channels as ids (what the modal's select shows), and the #names that
    answer to no channel the bot can see. Without `resolve`, #names stay as written."""
    names = [c for c in channels if c.startswith("#")]
    found: dict[str, str | None] = {}
    if resolve and names:
        try:
            ids_found = await asyncio.wait_for(
                asyncio.gather(*(_name_to_id(rt, n[1:]) for n in names)), RESOLVE_BUDGET
            )
            found = dict(zip(names, ids_found, strict=True))
        except (TimeoutError, SlackApiError) as e:
            log.info("settings: DEALS_CHANNELS names not resolved: %s", type(e).__name__)
    out: list[str] = []
    unresolved: list[str] = []
    for channel in channels:
        if not channel.startswith("#") or not resolve:
            out.append(channel)
        elif found.get(channel):
            out.append(str(found[channel]))
        else:
            unresolved.append(channel)
    return list(dict.fromkeys(out)), unresolved


async def _upcoming_holidays(rt: Runtime, team_id: str, tz: str) -> list[str]:
    today = rt.clock.now().astimezone(zone_of(tz)).date().isoformat()
    days = await rt.tx(workspace_holidays, write=False, team_id=team_id)
    return [d for d in days if d >= today]


async def shown_settings(rt: Runtime, team_id: str, *, resolve: bool) -> settings_msg.Shown:
    """The effective values as the modal (`resolve`: #names looked up) or App Home shows them."""
    current = await effective(rt, team_id)
    stories = await config_of(rt, team_id)
    deals, unresolved = await _deals_ids(rt, current.deals_channels, resolve=resolve)
    granted = await rt.tx(granted_admins, write=False, team_id=team_id)
    return settings_msg.Shown(
        deals_channels=deals,
        stories_channel=stories.channel,
        end_of_day=f"{current.end_of_day.hour:02d}:{current.end_of_day.minute:02d}",
        working_days=current.working_days,
        loss_streak=current.loss_streak,
        debrief_reminder_days=current.debrief_reminder_days,
        concern_delay_hours=current.concern_delay_hours,
        followup_days=current.followup_days,
        holidays=await _upcoming_holidays(rt, team_id, stories.tz),
        admins=sorted({*granted, *rt.settings.admins}),
        unresolved=unresolved,
    )


async def _admin(rt: Runtime, team_id: str, user_id: str) -> bool:
    """Checked on the server for every open and every save, whatever the button said."""
    person = await person_within(rt, team_id=team_id, user_id=user_id)
    return person is not None and await rt.db(is_admin, rt, team_id, person)


async def _open_settings(rt: Runtime, client: AsyncWebClient, body: dict[str, Any]) -> None:
    team_id, user_id = _who(body, rt)
    t = await reader_texts(rt, team_id, user_id)
    if await _admin(rt, team_id, user_id):
        shown = await shown_settings(rt, team_id, resolve=True)
        # Flat values only (what private_metadata may hold): the channels as shown, so
        # the save can tell which ones the admin added.
        meta = {"deals": ",".join(shown.deals_channels), "stories": shown.stories_channel}
        view = settings_msg.settings_modal(t, shown, meta)
    else:
        view = settings_msg.refused_modal(t)
    try:
        await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
    except SlackApiError as e:
        log.warning("settings modal did not open: %s", api_error(e))


async def on_settings_open(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)
    rt.spawn(_open_settings(rt, client, body), name="settings-open")


async def _channel_problem(rt: Runtime, t: Texts, channel: str) -> str | None:
    """Why the bot cannot use a channel an admin just chose, if it cannot: it is not in
    a private one (a public one it joins after the save)."""
    try:
        info = (await rt.client.conversations_info(channel=channel))["channel"]
    except SlackApiError as e:
        log.info("settings: conversations.info %s: %s", channel, api_error(e))
        return t("admin_settings.error_channel")
    rt.channel_names[channel] = str(info.get("name") or "").lower()
    if info.get("is_member", True) or not info.get("is_private"):
        return None
    return t("admin_settings.error_private", channel=f"#{info.get('name') or channel}")


async def _channel_errors(
    rt: Runtime, t: Texts, sub: Submitted, shown: tuple[str, ...], stories: str | None
) -> dict[str, str]:
    checks = [(ids.SETTINGS_DEALS, c) for c in sub.deals_channels if c not in shown]
    if sub.stories_channel and sub.stories_channel != stories:
        checks.append((ids.SETTINGS_STORIES, sub.stories_channel))
    if not checks:
        return {}
    try:
        found = await asyncio.wait_for(
            asyncio.gather(*(_channel_problem(rt, t, c) for _, c in checks)), CHECK_BUDGET
        )
    except TimeoutError:
        # Slack is slow: save, and join (or log why not) after the ack.
        return {}
    errors: dict[str, str] = {}
    for (block, _), problem in zip(checks, found, strict=True):
        if problem and block not in errors:
            errors[block] = problem
    return errors


async def _names(rt: Runtime, team_id: str, users: list[str]) -> str:
    """People as a form's error can show them (plain text: no mentions)."""
    shown = []
    for user in users:
        person = await rt.tx(get_person, write=False, team_id=team_id, slack_id=user)
        shown.append(f"@{person.name}" if person is not None and person.name else user)
    return ", ".join(shown)


async def _admin_errors(
    rt: Runtime, t: Texts, sub: Submitted, granted: list[str], who: tuple[str, str]
) -> dict[str, str]:
    team_id, actor = who
    from_config = sorted(rt.settings.admins - sub.admins)
    if from_config:
        names = await _names(rt, team_id, from_config)
        return {ids.SETTINGS_ADMINS: t("admin_settings.error_env_admin", users=names)}
    if actor in granted and actor not in sub.admins:
        return {ids.SETTINGS_ADMINS: t("admin_settings.error_self")}
    return {}


@dataclass(frozen=True)
class _Save:
    team_id: str
    user_id: str
    change: SettingsChange
    holidays: tuple[str, ...]  # as submitted: compared with the stored ones after the ack
    join: tuple[str, ...]


async def _plan_save(
    rt: Runtime, t: Texts, body: dict[str, Any], team_id: str, user_id: str
) -> _Save | dict[str, str]:
    """The change to save, or the errors to show in the form. Inside the ack: no Slack
    call but the bounded channel checks."""
    view = body.get("view") or {}
    meta = read_metadata(view)
    current = await effective(rt, team_id)
    sub, errors = read_form(t, view.get("state") or {}, current)
    granted = await rt.tx(granted_admins, write=False, team_id=team_id)
    errors = {**await _admin_errors(rt, t, sub, granted, (team_id, user_id)), **errors}
    shown = tuple(c for c in str(meta.get("deals") or "").split(",") if c)
    stories = meta.get("stories") or None
    errors = {**await _channel_errors(rt, t, sub, shown, stories), **errors}
    if errors:
        return errors
    values: dict[str, dict[str, Any] | None] = dict(changed_values(current, sub, shown))
    if sub.stories_channel != stories:
        values[stories_store.CHANNEL] = {"id": sub.stories_channel}
    change = SettingsChange(
        values=values,
        admins_added=sorted(sub.admins - set(granted) - rt.settings.admins),
        admins_removed=sorted(set(granted) - sub.admins),
        replan_evenings=bool({ws.END_OF_DAY, ws.WORKING_DAYS} & set(values)),
    )
    join = tuple(c for c in sub.deals_channels if c not in shown)
    if sub.stories_channel and sub.stories_channel != stories:
        join += (sub.stories_channel,)
    return _Save(team_id, user_id, change, sub.holidays, join)


async def _save_settings(rt: Runtime, save: _Save) -> None:
    tz = (await config_of(rt, save.team_id)).tz
    change = save.change
    if set(save.holidays) != set(await _upcoming_holidays(rt, save.team_id, tz)):
        change = replace(change, holidays=list(save.holidays))
    await rt.tx(
        save_settings,
        team_id=save.team_id,
        change=change,
        by=save.user_id,
        now=rt.clock.now(),
        today=rt.clock.now().astimezone(zone_of(tz)).date(),
    )
    ws.forget(rt, save.team_id)
    log.info("settings saved by %s: %s", save.user_id, ", ".join(sorted(change.values)))
    for channel in save.join:
        await ensure_member(rt, channel)
    await publish_home(rt, save.team_id, save.user_id)


async def on_settings_submit(
    ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
) -> None:
    rt = rt_of(context)
    team_id, user_id = _who(body, rt)
    t = await reader_texts(rt, team_id, user_id)
    if not await _admin(rt, team_id, user_id):
        # A forged submission (or an admin no more): nothing changes.
        await ack(response_action="update", view=settings_msg.refused_modal(t))
        return
    planned = await _plan_save(rt, t, body, team_id, user_id)
    if not isinstance(planned, _Save):
        await ack(response_action="errors", errors=planned)
        return
    await ack()
    rt.spawn(_save_settings(rt, planned), name=f"settings-save:{team_id}")


def register(app: AsyncApp, rt: Runtime) -> None:
    app.event("app_home_opened")(on_home_opened)
    app.action(ids.SETTINGS_OPEN)(on_settings_open)
    app.view(ids.SETTINGS_MODAL)(on_settings_submit)
    app.action(ids.FOCUS_OPEN)(on_focus_open)
    app.view(ids.FOCUS_MODAL)(on_focus_submit)
    app.action(ids.FOCUS_FROM_TAKEAWAY)(on_focus_from_takeaway)
