"""End-of-day reflection (seed 004, step 10) and the weekly digest that gives the week back.

At END_OF_DAY in each rep's own zone, on working days that are not workspace holidays,
a DM offers a modal with three questions; the answers are stored privately and the DM
answers "let it go". On the week's last working day, an hour after that DM, the rep
gets their own reflections of the week (Monday to Sunday, in their zone).

Both are recurring nudges kept by a planner that runs at the start of every dispatcher
tick: each rep always has exactly one pending reflection and one pending digest, at the
next slot computed from their *current* time zone. When one is sent or skipped the
planner adds the next one, so missed slots collapse into one: after downtime the stale
one is skipped as too late and only the next future slot is scheduled.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import zone_of
from bot.messages import Built, Texts
from bot.messages import reflection as msg
from bot.messages.blocks import read_metadata
from bot.nudges.reflection_schedule import (
    next_digest_slot,
    reflection_slot_after,
    week_label,
    week_of,
)
from bot.nudges.registry import KindPolicy, NudgeKind
from bot.runtime import Runtime, rt_of
from bot.slack import ids
from bot.slack.dm import open_dm
from bot.slack.errors import api_error
from bot.slack.people import load_person, person_within
from bot.workspace_settings import AllTeams, effective, for_all_teams_blocking
from handlers.debrief_replies import tell
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from storage import focus as focus_store
from storage import reflections as store
from storage.models import Nudge, Person
from storage.people import person_tz

log = logging.getLogger(__name__)

REFLECTION_POLICY = KindPolicy(max_late=timedelta(hours=2), when_quiet="skip")
# A digest read on Saturday morning is still the week's; one found a week late is noise.
# Never early in a bundle: it reports the reflection written in the hour before it.
DIGEST_POLICY = KindPolicy(max_late=timedelta(days=1), when_quiet="skip", early=False)
REFLECTION_LOOKBACK = timedelta(hours=2)  # = REFLECTION_POLICY.max_late
PLAN_BATCH = 1000
# People the planner looks at per dispatcher tick (see Planner).
PLAN_WINDOW = 500


# --- the planner ------------------------------------------------------------------------


def _reflection_row(
    teams: AllTeams, rep: store.Rep, holidays: frozenset[str], after: datetime
) -> dict[str, Any]:
    s = teams.of(rep.team_id)
    day, slot = reflection_slot_after(
        after, zone_of(rep.tz), s.end_of_day, s.working_days, holidays
    )
    return {
        "team_id": rep.team_id,
        "user_slack_id": rep.slack_id,
        "kind": store.REFLECTION,
        "due_at": slot,
        "idempotency_key": store.reflection_key(rep.team_id, rep.slack_id, day.isoformat()),
        "payload": {"local_date": day.isoformat()},
    }


def _digest_row(
    teams: AllTeams, rep: store.Rep, holidays: frozenset[str], after: datetime
) -> dict[str, Any]:
    s = teams.of(rep.team_id)
    day, slot = next_digest_slot(after, zone_of(rep.tz), s.end_of_day, s.working_days, holidays)
    monday, sunday = week_of(day)
    return {
        "team_id": rep.team_id,
        "user_slack_id": rep.slack_id,
        "kind": store.WEEKLY_DIGEST,
        "due_at": slot,
        "idempotency_key": store.digest_key(rep.team_id, rep.slack_id, week_label(day)),
        "payload": {"monday": monday.isoformat(), "sunday": sunday.isoformat()},
    }


def plan(rt: Runtime, *, after_id: int = 0, up_to_id: int | None = None) -> int:
    """Blocking: give every rep lacking one their next reflection and digest (those
    with a person id in `after_id` < id <= `up_to_id`, when given). Returns how many
    nudges were added.

    Reflection slots are looked for from two hours back, not from now: a bot that
    comes back 30 minutes after a rep's 17:30 still sends that evening's reflection (it
    is late, not too late), while one back days later plans only the next slot it can
    keep. Digests look only forward: a rep met on Saturday gets no digest of a week
    they never reflected in."""
    now = rt.clock.now()
    # Each workspace's end of day and working days, read once for the whole pass.
    teams = for_all_teams_blocking(rt)
    added = 0
    kinds = (
        (store.REFLECTION, _reflection_row, REFLECTION_LOOKBACK),
        (store.WEEKLY_DIGEST, _digest_row, timedelta(0)),
    )
    for kind, row_for, lookback in kinds:
        cursor: int | None = after_id
        while cursor is not None:
            step = rt.tx_blocking(
                store.plan_page,
                kind=kind,
                after_id=cursor,
                limit=PLAN_BATCH,
                up_to_id=up_to_id,
                make_row=functools.partial(row_for, teams),
                since=now - lookback,
                now=now,
            )
            added += step.added
            # A short page was the last one.
            cursor = step.last_id if step.reps == PLAN_BATCH else None
    return added


@dataclass
class Planner:
    """The tick hook: each tick plans the next `window` people by id, from where the
    last tick stopped, wrapping round. A tick's work is bounded however many people
    the bot knows (it ran on the dispatcher's thread next to the event loop, and over
    everyone each second it took CPU the acks needed); everyone is still looked at
    once every ceil(people / window) ticks. That delay is harmless: a slot found a few
    ticks late is still sent (reflections look two hours back)."""

    window: int = PLAN_WINDOW
    after_id: int = 0

    def plan_window(self, rt: Runtime) -> int:
        up_to = rt.tx_blocking(
            store.person_id_window, write=False, after_id=self.after_id, size=self.window
        )
        added = plan(rt, after_id=self.after_id, up_to_id=up_to)
        # Past the last person: start again from the first next tick.
        self.after_id = up_to if up_to is not None else 0
        return added

    async def __call__(self, rt: Runtime) -> None:
        await rt.db(self.plan_window, rt)


# --- rendering the nudges ---------------------------------------------------------------


async def render_reflection(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    """None (skipped) when the rep opted out or paused since it was planned, or the day
    became a holiday: the planner then adds the next slot."""
    local_date = str(nudge.payload.get("local_date") or "")
    if person.reflections_off or person.paused:
        return None
    holidays = await rt.tx(store.team_holidays, write=False, team_id=nudge.team_id)
    if local_date in holidays:
        return None
    focus = await rt.tx(
        focus_store.current_focus_text,
        write=False,
        team_id=nudge.team_id,
        user_id=nudge.user_slack_id,
    )
    return msg.reflection_dm(Texts(rt.catalog, person.locale), local_date=local_date, focus=focus)


async def render_digest(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    if person.reflections_off or person.paused:
        return None
    rows = await rt.tx(
        store.week_reflections,
        write=False,
        team_id=nudge.team_id,
        user_id=nudge.user_slack_id,
        monday=str(nudge.payload.get("monday") or ""),
        sunday=str(nudge.payload.get("sunday") or ""),
    )
    checks = await rt.tx(
        focus_store.week_checks,
        write=False,
        team_id=nudge.team_id,
        user_id=nudge.user_slack_id,
        monday=str(nudge.payload.get("monday") or ""),
        sunday=str(nudge.payload.get("sunday") or ""),
    )
    entries = []
    for r in rows:
        check = checks.get(r.local_date)
        focus, came_up = (check.focus, check.came_up) if check else (None, None)
        entries.append(msg.DigestEntry(r.local_date, r.went, r.short, r.better, focus, came_up))
    focus = await rt.tx(
        focus_store.current_focus_text,
        write=False,
        team_id=nudge.team_id,
        user_id=nudge.user_slack_id,
    )
    return msg.weekly_digest(Texts(rt.catalog, person.locale), entries, focus_now=focus)


# --- the modal ----------------------------------------------------------------------------


def _valid_date(value: Any) -> str | None:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        return None


async def _local_today(rt: Runtime, team_id: str, user_id: str) -> str:
    tz = await rt.tx(person_tz, write=False, team_id=team_id, slack_id=user_id)
    if tz is None:
        # Under the ack's budget: a modal must open inside the trigger's 3 seconds, so a
        # first-time user on a slow Slack day gets today in UTC rather than no modal.
        person = await person_within(rt, team_id=team_id, user_id=user_id)
        tz = person.tz if person else None
    return rt.clock.now().astimezone(zone_of(tz)).date().isoformat()


async def open_modal(
    rt: Runtime,
    client: AsyncWebClient,
    *,
    trigger_id: str,
    team_id: str,
    user_id: str,
    local_date: str,
    channel: str | None = None,
    ts: str | None = None,
) -> bool:
    """Open the reflection modal, prefilled with what the rep already wrote that day."""
    t = await reader_texts(rt, team_id, user_id)
    initial = await rt.tx(
        store.answers_so_far, write=False, team_id=team_id, user_id=user_id, local_date=local_date
    )
    focus = await rt.tx(focus_store.current_focus, write=False, team_id=team_id, user_id=user_id)
    view = msg.reflection_modal(
        t,
        local_date=local_date,
        channel=channel,
        ts=ts,
        owner=user_id,
        initial=initial,
        focus=focus.text if focus else None,
        focus_id=focus.id if focus else None,
    )
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as e:
        log.warning("reflection modal did not open: %s", api_error(e))
        return False
    return True


async def _show(
    rt: Runtime,
    client: AsyncWebClient,
    who: tuple[str, str],
    built: Built,
    where: tuple[str | None, str | None],
) -> None:
    """Replace the evening DM (`where`: its channel and ts) with the answer; without one
    (or if it is gone), post it to `who` (team, user)."""
    channel, ts = where
    if channel and ts:
        try:
            await client.chat_update(channel=channel, ts=ts, **built.as_kwargs())
            return
        except SlackApiError as e:
            log.warning("chat.update failed (%s); posting instead", api_error(e))
    if not channel:
        channel = await open_dm(rt, who[0], who[1], client=client)
    await client.chat_postMessage(channel=channel, **built.as_kwargs())


# --- /loop reflect --------------------------------------------------------------------------


async def _store_choice(call: CommandCall, off: bool) -> None:
    rt = call.rt
    # The person row is what the planner reads; make sure there is one.
    await load_person(rt, team_id=call.team_id, user_id=call.user_id)
    await rt.tx(
        store.set_reflection_choice,
        team_id=call.team_id,
        user_id=call.user_id,
        off=off,
        now=rt.clock.now(),
    )


async def _open_from_command(call: CommandCall) -> None:
    # After the ack: Slack's 3 seconds cover the answer to the command, and the modal
    # has the trigger's own 3 seconds.
    rt = call.rt
    local_date = await _local_today(rt, call.team_id, call.user_id)
    opened = call.trigger_id and await open_modal(
        rt,
        call.client,
        trigger_id=call.trigger_id,
        team_id=call.team_id,
        user_id=call.user_id,
        local_date=local_date,
    )
    if not opened:
        await call.respond(text=call.t("errors.generic"), response_type="ephemeral")


async def reflect_command(call: CommandCall) -> None:
    rt = call.rt
    word = call.args.strip().lower()
    if word in ("off", "on"):
        off = word == "off"
        if off:
            await call.reply(call.t("reflect.turned_off"))
        else:
            settings = await effective(rt, call.team_id)
            await call.reply(call.t("reflect.turned_on", time=settings.end_of_day))
        rt.spawn(_store_choice(call, off), name=f"reflect-{word}:{call.user_id}")
        return
    if word:
        await call.reply(call.t("reflect.usage"))
        return
    await call.ack()
    rt.spawn(_open_from_command(call), name=f"reflect-open:{call.user_id}")


# --- listeners ------------------------------------------------------------------------------


def _team(body: dict[str, Any], rt: Runtime) -> str:
    team = body.get("team") or {}
    user = body.get("user") or {}
    return str(team.get("id") or user.get("team_id") or rt.team_id or "")


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _container(body: dict[str, Any]) -> tuple[str | None, str | None]:
    container = body.get("container") or {}
    return container.get("channel_id"), container.get("message_ts")


async def _open_from_dm(rt: Runtime, client: AsyncWebClient, body: dict[str, Any]) -> None:
    action = (body.get("actions") or [{}])[0]
    team_id, user_id = _team(body, rt), _user(body)
    local_date = _valid_date(action.get("value")) or await _local_today(rt, team_id, user_id)
    channel, ts = _container(body)
    await open_modal(
        rt,
        client,
        trigger_id=str(body.get("trigger_id") or ""),
        team_id=team_id,
        user_id=user_id,
        local_date=local_date,
        channel=channel,
        ts=ts,
    )


async def on_open(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)
    rt.spawn(_open_from_dm(rt, client, body), name=f"reflect-open:{_user(body)}")


async def _answer_skip(
    rt: Runtime, client: AsyncWebClient, body: dict[str, Any], respond: AsyncRespond
) -> None:
    team_id, user_id = _team(body, rt), _user(body)
    t = await reader_texts(rt, team_id, user_id)
    local_date = _valid_date(((body.get("actions") or [{}])[0]).get("value"))
    saved = None
    if local_date:
        saved = await rt.tx(
            store.get_reflection,
            write=False,
            team_id=team_id,
            user_id=user_id,
            local_date=local_date,
        )
    if saved is not None:
        # Skip on an old copy of a day already reflected on: the reflection stays.
        await _show(rt, client, (team_id, user_id), msg.let_go(t), _container(body))
        await tell(respond, t("state.reflection_kept"))
        return
    await _show(rt, client, (team_id, user_id), msg.skipped(t), _container(body))


async def on_skip(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    await ack()
    rt = rt_of(context)
    rt.spawn(_answer_skip(rt, client, body, respond), name=f"reflect-skip:{_user(body)}")


async def _save(
    rt: Runtime,
    client: AsyncWebClient,
    body: dict[str, Any],
    t: Texts,
    answers: dict[str, str],
) -> None:
    team_id, user_id = _team(body, rt), _user(body)
    view = body.get("view") or {}
    meta = read_metadata(view)
    local_date = _valid_date(meta.get("date")) or await _local_today(rt, team_id, user_id)
    asked = meta.get("focus")
    state = view.get("state") or {}
    change = await rt.tx(
        store.save_evening,
        team_id=team_id,
        user_id=user_id,
        local_date=local_date,
        answers=answers,
        asked_focus_id=asked if isinstance(asked, int) and asked > 0 else None,
        came_up=msg.read_came_up(state),
        next_focus=msg.read_next_focus(state),
        now=rt.clock.now(),
    )
    # Only the rep the modal was opened for ever touches that DM.
    mine = meta.get("user") == user_id
    channel = meta.get("channel") if mine else None
    ts = meta.get("ts") if mine else None
    where = (str(channel) if channel else None, str(ts) if ts else None)
    built = msg.let_go(
        t, focus_now=change.focus if change.changed else None, changed=change.changed
    )
    await _show(rt, client, (team_id, user_id), built, where)


async def on_submit(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    rt = rt_of(context)
    view = body.get("view") or {}
    user_id = _user(body)
    t = await reader_texts(rt, _team(body, rt), user_id)
    answers = msg.read_answers(view.get("state") or {})
    if not answers[msg.REQUIRED]:
        await ack(response_action="errors", errors={msg.REQUIRED: t("reflect.error_went")})
        return
    await ack()
    rt.spawn(_save(rt, client, body, t, answers), name=f"reflect-save:{user_id}")


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("reflect", reflect_command, help_key="help.line_reflect")
    app.action(ids.REFLECT_OPEN)(on_open)
    app.action(ids.REFLECT_SKIP)(on_skip)
    app.view(ids.REFLECT_MODAL)(on_submit)


NUDGE_KINDS = (
    NudgeKind(store.REFLECTION, render_reflection, policy=REFLECTION_POLICY),
    NudgeKind(store.WEEKLY_DIGEST, render_digest, policy=DIGEST_POLICY),
)
# The planner keeps a cursor over people: one per runtime.
PLANNERS = (Planner,)
