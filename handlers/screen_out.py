"""Screen-out review: `/loop screen-out <account>` asks the two screening questions in a
modal (still willing to treat them as a potential client? when to review?), records the
answers, sends the leave-on-good-terms words, and brings the account back to the rep at
09:00 in their own time zone on the review date.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Built, Texts
from bot.messages.screen_out import (
    CALLBACK_ID,
    NOTES_ACTION,
    NOTES_BLOCK,
    POTENTIAL_ACTION,
    POTENTIAL_BLOCK,
    POTENTIAL_OPTIONS,
    REVIEW_ACTION,
    REVIEW_ACTION_ID,
    REVIEW_BLOCK,
    good_terms_dm,
    review_dm,
    screen_out_modal,
)
from bot.nudges.delivery import deliver
from bot.nudges.registry import KindPolicy, NudgeKind
from bot.runtime import Runtime
from bot.slack.errors import api_error
from bot.slack.people import load_person
from handlers.debrief_replies import tell
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from handlers.tee_up import parse_account
from storage import nudges
from storage.db import unit_of_work
from storage.models import Nudge, Person, RitualRun
from storage.people import get_person

log = logging.getLogger(__name__)

REVIEW_KIND = "screen_out_review"
SAVED_KIND = "screen_out_saved"
REVIEW_AT = time(9, 0)


def zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz) if tz else ZoneInfo("UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def review_due_at(review: date, tz: str | None, now: datetime) -> datetime:
    """09:00 on the review date in the rep's zone (zoneinfo handles DST); never in the
    past, so a review set for today still arrives today."""
    local = datetime.combine(review, REVIEW_AT, tzinfo=zone(tz))
    return max(local.astimezone(UTC), now)


def local_today(now: datetime, tz: str | None) -> date:
    return now.astimezone(zone(tz)).date()


def _selected(values: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    return dict((values.get(block) or {}).get(action) or {})


def read_answers(view: dict[str, Any]) -> tuple[str | None, str | None, str]:
    values = (view.get("state") or {}).get("values") or {}
    option = _selected(values, POTENTIAL_BLOCK, POTENTIAL_ACTION).get("selected_option") or {}
    potential = option.get("value")
    review = _selected(values, REVIEW_BLOCK, REVIEW_ACTION).get("selected_date")
    notes = _selected(values, NOTES_BLOCK, NOTES_ACTION).get("value") or ""
    return potential, review, str(notes).strip()[:2000]


def field_errors(
    t: Texts, potential: str | None, review: str | None, today: date
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if potential not in POTENTIAL_OPTIONS:
        errors[POTENTIAL_BLOCK] = t("screenout.error_potential")
    try:
        chosen = date.fromisoformat(review) if review else None
    except ValueError:
        chosen = None
    if chosen is None:
        errors[REVIEW_BLOCK] = t("screenout.error_review_missing")
    elif chosen < today:
        errors[REVIEW_BLOCK] = t("screenout.error_review_past")
    return errors


def save_screen_out(
    rt: Runtime,
    *,
    team_id: str,
    user_id: str,
    account: str,
    potential: str,
    review: date,
    notes: str,
    tz: str | None,
    previous_run: int | None,
) -> tuple[int, int | None]:
    """The run, its review nudge and the good-terms DM, in one transaction."""
    now = rt.clock.now()
    due = review_due_at(review, tz, now)
    with unit_of_work(rt.engine) as session:
        if previous_run:
            old = session.get(RitualRun, previous_run)
            if old is not None and old.user_slack_id == user_id and old.ritual == "screen_out":
                old.state = "reviewed"
                old.updated_at = now
                session.add(old)
                nudges.cancel_pending(
                    session=session, idempotency_key_prefix=f"screen_out:{old.id}:", now=now
                )
        run = RitualRun(
            team_id=team_id,
            ritual="screen_out",
            user_slack_id=user_id,
            account=account,
            state="scheduled",
            data={
                "potential": potential,
                "review_date": review.isoformat(),
                "notes": notes,
                "previous_run": previous_run,
            },
            due_at=due,
            created_at=now,
            updated_at=now,
        )
        session.add(run)
        session.flush()
        review_nudge = nudges.schedule(
            session=session,
            team_id=team_id,
            user_slack_id=user_id,
            kind=REVIEW_KIND,
            due_at=due,
            idempotency_key=f"screen_out:{run.id}:review",
            payload={"run_id": run.id},
            ritual_run_id=run.id,
            now=now,
        )
        saved = nudges.schedule(
            session=session,
            team_id=team_id,
            user_slack_id=user_id,
            kind=SAVED_KIND,
            due_at=now,
            idempotency_key=f"screen_out:{run.id}:saved",
            payload={"run_id": run.id},
            ritual_run_id=run.id,
            now=now,
        )
        session.flush()
        assert review_nudge.id is not None and run.id is not None
        return run.id, saved.id


def _run(rt: Runtime, run_id: int) -> RitualRun | None:
    with unit_of_work(rt.engine) as session:
        return session.get(RitualRun, run_id)


async def render_saved(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    run = await rt.db(_run, rt, int(nudge.payload["run_id"]))
    if run is None:
        return None
    return good_terms_dm(
        Texts(rt.catalog, person.locale),
        account=run.account or "",
        date=str(run.data.get("review_date") or ""),
    )


async def render_review(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    run = await rt.db(_run, rt, int(nudge.payload["run_id"]))
    if run is None or run.state != "scheduled" or run.id is None:
        return None
    screened_on = run.created_at.astimezone(zone(person.tz)).date() if run.created_at else None
    return review_dm(
        Texts(rt.catalog, person.locale),
        account=run.account or "",
        screened_on=screened_on.isoformat() if screened_on else "",
        run_id=run.id,
    )


async def after_review(rt: Runtime, nudge: Nudge, channel: str, ts: str) -> None:
    def write() -> None:
        with unit_of_work(rt.engine) as session:
            run = session.get(RitualRun, int(nudge.payload["run_id"]))
            if run is not None and run.state == "scheduled":
                run.state = "review_sent"
                run.data = {**run.data, "review_channel": channel, "review_ts": ts}
                run.updated_at = rt.clock.now()
                session.add(run)

    await rt.db(write)


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


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    # The review is worth sending late, and waits while the rep is paused; the
    # good-terms words answer what they just submitted, so they go out at once.
    commands.add(
        "screen-out", screen_out_command, help_key="help.line_screen_out", aliases=("screenout",)
    )

    @app.view(CALLBACK_ID)
    async def on_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = str((body.get("user") or {}).get("id") or "")
        team = body.get("team") or {}
        team_id = str(team.get("id") or view.get("team_id") or rt.team_id or "")
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            meta = {}
        account = str(meta.get("account") or "")[:200]
        previous = meta.get("previous_run")
        potential, review, notes = read_answers(view)

        def read_tz() -> str | None:
            with unit_of_work(rt.engine) as session:
                person = get_person(session=session, team_id=team_id, slack_id=user_id)
                return person.tz if person else None

        # "In the past" is judged in the rep's own zone: a local database read, needed
        # for the ack's field errors.
        tz = await rt.db(read_tz)
        t = await reader_texts(rt, team_id, user_id)
        errors = field_errors(t, potential, review, local_today(rt.clock.now(), tz))
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        assert potential is not None and review is not None

        async def work() -> None:
            person = await load_person(rt, team_id=team_id, user_id=user_id)
            _run_id, saved_id = await rt.db(
                save_screen_out,
                rt,
                team_id=team_id,
                user_id=user_id,
                account=account,
                potential=potential,
                review=date.fromisoformat(review),
                notes=notes,
                tz=person.tz,
                previous_run=int(previous) if previous else None,
            )
            if saved_id is not None:
                await deliver(rt, saved_id)

        rt.spawn(work(), name=f"screen-out:{user_id}")

    @app.action(REVIEW_ACTION_ID)
    async def review_now(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        user_id = str((body.get("user") or {}).get("id") or "")
        team_id = str((body.get("team") or {}).get("id") or rt.team_id or "")
        value = str(action.get("value") or "")
        run = await rt.db(_run, rt, int(value)) if value.isdigit() else None
        t = await reader_texts(rt, team_id, user_id)
        if run is None or run.ritual != "screen_out":
            # Deleted since the review DM went out: say so, and how to start again.
            await tell(respond, t("screenout.gone"))
            return
        if not body.get("trigger_id"):
            return
        await open_modal(rt.client, str(body["trigger_id"]), t, run.account or "", run.id)


NUDGE_KINDS = (
    NudgeKind(REVIEW_KIND, render_review, after_review, policy=KindPolicy(when_quiet="wait")),
    NudgeKind(SAVED_KIND, render_saved, policy=KindPolicy(respects_quiet=False)),
)
