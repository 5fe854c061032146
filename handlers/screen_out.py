"""Screen-out review: `/loop screen-out <account>` asks the two screening questions in a
modal (still willing to treat them as a potential client? when to review?), records the
answers, sends the leave-on-good-terms words, and brings the account back to the rep at
09:00 in their own time zone on the review date.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.accounts import ACCOUNT_MAX, parse_account
from bot.messages import Built, Texts
from bot.messages.blocks import read_metadata
from bot.messages.screen_out import (
    POTENTIAL_OPTIONS,
    good_terms_dm,
    review_dm,
    screen_out_modal,
)
from bot.nudges.delivery import deliver
from bot.nudges.quiet import local_day, zone_of
from bot.nudges.registry import KindPolicy, NudgeKind
from bot.runtime import Runtime
from bot.slack import ids
from bot.slack.clicks import put_in_place
from bot.slack.errors import api_error
from bot.slack.people import load_person
from handlers.common import rt_of
from handlers.debrief_replies import tell
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from storage import screen_outs
from storage.debriefs import is_bundle
from storage.kinds import ScreenOutState
from storage.models import Nudge, Person
from storage.people import get_person
from storage.run_data import screen_out_data

log = logging.getLogger(__name__)

REVIEW_KIND = screen_outs.REVIEW_KIND
SAVED_KIND = screen_outs.SAVED_KIND
REVIEW_AT = time(9, 0)


def review_due_at(review: date, tz: str | None, now: datetime) -> datetime:
    """09:00 on the review date in the rep's zone (zoneinfo handles DST); never in the
    past, so a review set for today still arrives today."""
    local = datetime.combine(review, REVIEW_AT, tzinfo=zone_of(tz))
    return max(local.astimezone(UTC), now)


def _selected(values: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    return dict((values.get(block) or {}).get(action) or {})


def read_answers(view: dict[str, Any]) -> tuple[str | None, str | None, str]:
    values = (view.get("state") or {}).get("values") or {}
    option = (
        _selected(values, ids.SCREEN_OUT_POTENTIAL_BLOCK, ids.SCREEN_OUT_POTENTIAL).get(
            "selected_option"
        )
        or {}
    )
    potential = option.get("value")
    review = _selected(values, ids.SCREEN_OUT_REVIEW_BLOCK, ids.SCREEN_OUT_REVIEW_DATE).get(
        "selected_date"
    )
    notes = _selected(values, ids.SCREEN_OUT_NOTES_BLOCK, ids.SCREEN_OUT_NOTES).get("value") or ""
    return potential, review, str(notes).strip()[:2000]


def field_errors(
    t: Texts, potential: str | None, review: str | None, today: date
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if potential not in POTENTIAL_OPTIONS:
        errors[ids.SCREEN_OUT_POTENTIAL_BLOCK] = t("screenout.error_potential")
    try:
        chosen = date.fromisoformat(review) if review else None
    except ValueError:
        chosen = None
    if chosen is None:
        errors[ids.SCREEN_OUT_REVIEW_BLOCK] = t("screenout.error_review_missing")
    elif chosen < today:
        errors[ids.SCREEN_OUT_REVIEW_BLOCK] = t("screenout.error_review_past")
    return errors


async def render_saved(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    run = await rt.tx(screen_outs.get_screen_out, write=False, run_id=int(nudge.payload["run_id"]))
    if run is None:
        return None
    return good_terms_dm(
        Texts(rt.catalog, person.locale),
        account=run.account or "",
        date=screen_out_data(run).review_date or "",
    )


async def render_review(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    run = await rt.tx(screen_outs.get_screen_out, write=False, run_id=int(nudge.payload["run_id"]))
    if run is None or run.state != ScreenOutState.SCHEDULED or run.id is None:
        return None
    screened_on = local_day(run.created_at, person.tz) if run.created_at else None
    return review_dm(
        Texts(rt.catalog, person.locale),
        account=run.account or "",
        screened_on=screened_on.isoformat() if screened_on else "",
        run_id=run.id,
    )


async def after_review(rt: Runtime, nudge: Nudge, channel: str, ts: str) -> None:
    await rt.tx(
        screen_outs.mark_review_sent,
        run_id=int(nudge.payload["run_id"]),
        channel=channel,
        ts=ts,
        now=rt.clock.now(),
    )


async def open_modal(
    client: AsyncWebClient, trigger_id: str, t: Texts, account: str, previous: int | None
) -> bool:
    try:
        await client.views_open(
            trigger_id=trigger_id,
            view=screen_out_modal(t, account=account, previous_run=previous),
        )
    except SlackApiError as e:
        log.warning("screen-out modal did not open: %s", api_error(e))
        return False
    return True


async def screen_out_command(call: CommandCall) -> None:
    account = parse_account(call.args)
    if not account:
        await call.reply(call.t("screenout.usage"))
        return
    await call.ack()

    # Right after the ack: the trigger stays valid for three seconds from the command.
    async def open_after_ack() -> None:
        if not call.trigger_id or not await open_modal(
            call.client, call.trigger_id, call.t, account, None
        ):
            await call.respond(text=call.t("errors.generic"), response_type="ephemeral")

    call.rt.spawn(open_after_ack(), name=f"screen-out-open:{call.user_id}")
    # Warm the rep's profile so the submission can judge "in the past" in their own zone.
    call.rt.spawn(
        load_person(call.rt, team_id=call.team_id, user_id=call.user_id),
        name=f"screen-out-profile:{call.user_id}",
    )


async def save(
    rt: Runtime,
    *,
    team_id: str,
    user_id: str,
    account: str,
    potential: str,
    review: date,
    notes: str,
    previous_run: int | None,
) -> None:
    """After the ack: the rows, then the good-terms words at once."""
    person = await load_person(rt, team_id=team_id, user_id=user_id)
    now = rt.clock.now()
    _run_id, saved_id = await rt.tx(
        screen_outs.save_screen_out,
        team_id=team_id,
        user_id=user_id,
        account=account,
        potential=potential,
        review=review,
        notes=notes,
        due=review_due_at(review, person.tz, now),
        previous_run=previous_run,
        now=now,
    )
    if saved_id is not None:
        await deliver(rt, saved_id)
    if previous_run is not None and not await _in_bundle(rt, previous_run):
        t = Texts(rt.catalog, person.locale)
        await _show_reviewed(rt, previous_run, t, t("state.reviewed", date=review.isoformat()))


async def _in_bundle(rt: Runtime, run_id: int) -> bool:
    """Did the review DM go out inside a bundle? Then it is left as it is: an update from
    outside a click on it would replace the bundle's other sections too."""
    run = await rt.tx(screen_outs.get_screen_out, write=False, run_id=run_id)
    ts = screen_out_data(run).review_ts if run is not None else None
    if not ts:
        return False
    return bool(await rt.tx(is_bundle, write=False, ts=ts))


async def _show_reviewed(
    rt: Runtime,
    run_id: int,
    t: Texts,
    line: str,
    *,
    respond: AsyncRespond | None = None,
    where: tuple[str | None, str | None] = (None, None),
) -> None:
    """The review DM of a screen-out that was reviewed: its button makes way for the line
    that says so (the clicked copy when given, else the DM as sent)."""
    run = await rt.tx(screen_outs.get_screen_out, write=False, run_id=run_id)
    if run is None or run.id is None:
        return
    data = screen_out_data(run)
    channel, ts = where[0] or data.review_channel, where[1] or data.review_ts
    person = await rt.tx(get_person, write=False, team_id=run.team_id, slack_id=run.user_slack_id)
    day = local_day(run.created_at, person.tz if person else None) if run.created_at else None
    screened_on = day.isoformat() if day else ""
    built = review_dm(
        t, account=run.account or "", screened_on=screened_on, run_id=run.id, reviewed=line
    )
    await put_in_place(rt.client, respond, channel=channel, ts=ts, built=built)


async def on_submit(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    rt = rt_of(context)
    user_id = str((body.get("user") or {}).get("id") or "")
    team = body.get("team") or {}
    team_id = str(team.get("id") or view.get("team_id") or rt.team_id or "")
    meta = read_metadata(view)
    potential, review, notes = read_answers(view)
    # "In the past" is judged in the rep's own zone: a local database read, needed
    # for the ack's field errors.
    person = await rt.tx(get_person, write=False, team_id=team_id, slack_id=user_id)
    t = await reader_texts(rt, team_id, user_id)
    today = local_day(rt.clock.now(), person.tz if person else None)
    errors = field_errors(t, potential, review, today)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    assert potential is not None and review is not None
    previous = meta.get("previous_run")
    work = save(
        rt,
        team_id=team_id,
        user_id=user_id,
        account=str(meta.get("account") or "")[:ACCOUNT_MAX],
        potential=potential,
        review=date.fromisoformat(review),
        notes=notes,
        previous_run=int(previous) if previous else None,
    )
    rt.spawn(work, name=f"screen-out:{user_id}")


async def on_review_now(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    await ack()
    rt = rt_of(context)
    user_id = str((body.get("user") or {}).get("id") or "")
    team_id = str((body.get("team") or {}).get("id") or rt.team_id or "")
    value = str(action.get("value") or "")
    run = (
        await rt.tx(screen_outs.get_screen_out, write=False, run_id=int(value))
        if value.isdigit()
        else None
    )
    t = await reader_texts(rt, team_id, user_id)
    if run is None:
        # Deleted since the review DM went out: say so, and how to start again.
        await tell(respond, t("screenout.gone"))
        return
    if run.state == ScreenOutState.REVIEWED and run.id is not None:
        # An old copy of a review already done: it says so, and the DM catches up.
        line = t("state.already_reviewed", account=run.account or "")
        container = body.get("container") or {}
        where = (container.get("channel_id"), container.get("message_ts"))
        await _show_reviewed(rt, run.id, t, line, respond=respond, where=where)
        await tell(respond, line)
        return
    if not body.get("trigger_id"):
        return
    await open_modal(rt.client, str(body["trigger_id"]), t, run.account or "", run.id)


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add(
        "screen-out", screen_out_command, help_key="help.line_screen_out", aliases=("screenout",)
    )
    app.view(ids.SCREEN_OUT_VIEW)(on_submit)
    app.action(ids.SCREEN_OUT_REVIEW_NOW)(on_review_now)


# The review is worth sending late, and waits while the rep is paused; the good-terms
# words answer what they just submitted, so they go out at once.
NUDGE_KINDS = (
    NudgeKind(REVIEW_KIND, render_review, after_review, policy=KindPolicy(when_quiet="wait")),
    NudgeKind(SAVED_KIND, render_saved, policy=KindPolicy(respects_quiet=False)),
)
