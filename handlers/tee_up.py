"""Tee it up: before the proposal goes out, ask the client to agree a 5–10 minute
debrief in case the answer is no or not now.

Triggers: `/loop tee-up <account>`, or a "proposal sent" message in a deals channel
(routed here by handlers/deals.py). Both send the rep one DM (a `tee_up` nudge) with the
ask and three buttons; a click records a `tee_up` RitualRun whose `data["agreed"]` the
account's later debrief reads. After "agreed" or "declined" nothing more is sent until
the deal closes; "not asked yet" brings the ask back in a couple of days.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from sqlmodel import col, select

from bot.deals.parser import DealSignal
from bot.messages import Built, Texts
from bot.messages.tee_up import ANSWERS, answer_text, tee_up_dm
from bot.nudges.delivery import deliver
from bot.nudges.registry import KindPolicy, NudgeKind
from bot.runtime import Runtime
from bot.slack.errors import api_error
from bot.slack.people import load_person
from handlers.debrief_replies import tell
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from storage import nudges
from storage.accounts import same_account
from storage.db import unit_of_work
from storage.models import Nudge, Person, RitualRun

log = logging.getLogger(__name__)

KIND = "tee_up"
FOLLOWUP_DAYS = 2
ACCOUNT_MAX = 200
MENTION = re.compile(r"<[@#!][^>]*>")


def parse_account(args: str) -> str:
    """The account as typed; mentions and stray punctuation around it are dropped."""
    account = MENTION.sub(" ", args)
    return re.sub(r"\s+", " ", account).strip(" -—–:,\"'")[:ACCOUNT_MAX]


def schedule_tee_up(
    rt: Runtime, *, team_id: str, rep: str, account: str, key: str, source: str
) -> int | None:
    """One `tee_up` nudge per key: a retried event or a double-submitted command finds
    the row that is already there instead of adding a second DM."""
    now = rt.clock.now()
    with unit_of_work(rt.engine) as session:
        nudge = nudges.schedule(
            session=session,
            team_id=team_id,
            user_slack_id=rep,
            kind=KIND,
            due_at=now,
            idempotency_key=key[:200],
            payload={"account": account, "source": source},
            now=now,
        )
        session.flush()
        return nudge.id


def _decided_since(rt: Runtime, nudge: Nudge) -> bool:
    """A follow-up is pointless once the rep has answered agreed/declined since."""
    after = int(nudge.payload.get("followup_of") or 0)
    with unit_of_work(rt.engine) as session:
        found = session.exec(
            select(RitualRun.id).where(
                RitualRun.team_id == nudge.team_id,
                RitualRun.ritual == "tee_up",
                RitualRun.user_slack_id == nudge.user_slack_id,
                col(RitualRun.state).in_(("agreed", "declined")),
                col(RitualRun.id) > after,
                same_account(RitualRun.account, str(nudge.payload.get("account") or "")),
            )
        ).first()
        return found is not None


async def render_tee_up(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    account = str(nudge.payload.get("account") or "")
    if not account:
        return None
    if nudge.payload.get("followup_of") and await rt.db(_decided_since, rt, nudge):
        return None
    assert nudge.id is not None
    return tee_up_dm(Texts(rt.catalog, person.locale), account=account, nudge_id=nudge.id)


async def tee_up_command(call: CommandCall) -> None:
    account = parse_account(call.args)
    if not account:
        await call.reply(call.t("teeup.usage"))
        return
    await call.reply(call.t("teeup.sent", account=account))
    rt = call.rt
    once = call.trigger_id or rt.clock.now().isoformat()
    key = f"tee_up:cmd:{call.team_id}:{call.user_id}:{once}"

    async def work() -> None:
        nudge_id = await rt.db(
            schedule_tee_up,
            rt,
            team_id=call.team_id,
            rep=call.user_id,
            account=account,
            key=key,
            source="command",
        )
        if nudge_id is not None:
            await deliver(rt, nudge_id)

    rt.spawn(work(), name=f"tee-up-command:{call.user_id}")


async def intake_proposal(
    rt: Runtime, body: dict[str, Any], event: dict[str, Any], signal: DealSignal
) -> None:
    """A "proposal sent" post in a deals channel: the same DM to the rep, once per message."""
    from handlers.deals import resolve_rep  # deals routes here, so import it lazily

    if not signal.account:
        log.info("proposal message %s/%s names no account", event.get("channel"), event.get("ts"))
        return
    team_id = str(body.get("team_id") or event.get("team") or rt.team_id or "")
    poster = None if event.get("bot_id") else event.get("user")
    rep = await resolve_rep(rt, signal, poster)
    if not rep:
        log.warning("proposal for %s has no rep to DM", signal.account)
        return
    key = f"tee_up:msg:{team_id}:{event.get('channel')}:{event.get('ts')}"
    nudge_id = await rt.db(
        schedule_tee_up,
        rt,
        team_id=team_id,
        rep=rep,
        account=parse_account(signal.account),
        key=key,
        source="channel",
    )
    if nudge_id is not None:
        await deliver(rt, nudge_id)


def record_answer(rt: Runtime, *, nudge_id: int, user_id: str, state: str) -> Nudge | None:
    """The answer as a tee_up run. A second click on the same DM (before it was
    updated) changes that run rather than adding another."""
    now = rt.clock.now()
    with unit_of_work(rt.engine) as session:
        nudge = session.get(Nudge, nudge_id)
        if nudge is None or nudge.kind != KIND:
            return None
        run = session.get(RitualRun, nudge.ritual_run_id) if nudge.ritual_run_id else None
        if run is None:
            run = RitualRun(
                team_id=nudge.team_id,
                ritual="tee_up",
                user_slack_id=user_id,
                account=str(nudge.payload.get("account") or ""),
                created_at=now,
            )
        run.state = state
        run.data = {
            **(run.data or {}),
            "agreed": state == "agreed",
            "nudge_id": nudge_id,
            "source": nudge.payload.get("source"),
        }
        run.updated_at = now
        session.add(run)
        session.flush()
        nudge.ritual_run_id = run.id
        session.add(nudge)
        if state == "not_asked":
            nudges.schedule(
                session=session,
                team_id=nudge.team_id,
                user_slack_id=nudge.user_slack_id,
                kind=KIND,
                due_at=now + timedelta(days=FOLLOWUP_DAYS),
                idempotency_key=f"tee_up:followup:{nudge_id}",
                payload={**nudge.payload, "followup_of": run.id},
                now=now,
            )
        return nudge


async def on_answer(
    rt: Runtime,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond | None = None,
) -> None:
    state = ANSWERS[str(action.get("action_id"))][0]
    user_id = str((body.get("user") or {}).get("id") or "")
    value = str(action.get("value") or "")
    nudge_id = int(value) if value.isdigit() else None
    nudge = (
        await rt.db(record_answer, rt, nudge_id=nudge_id, user_id=user_id, state=state)
        if nudge_id is not None
        else None
    )
    if nudge is None or nudge_id is None:
        # The ask was deleted (e.g. `/loop forget-me`): say so rather than a dead click.
        if respond is not None:
            team_id = str((body.get("team") or {}).get("id") or rt.team_id or "")
            t = await reader_texts(rt, team_id, user_id)
            await tell(respond, t("teeup.gone"))
        return
    team_id = nudge.team_id
    person = await load_person(rt, team_id=team_id, user_id=user_id)
    t = Texts(rt.catalog, person.locale)
    account = str(nudge.payload.get("account") or "")
    reply = answer_text(t, state, account=account, days=FOLLOWUP_DAYS)
    built = tee_up_dm(t, account=account, nudge_id=nudge_id, answer=reply)
    channel = str((body.get("container") or {}).get("channel_id") or "")
    ts = str((body.get("container") or {}).get("message_ts") or "")
    if not channel or not ts:
        return
    try:
        await rt.client.chat_update(channel=channel, ts=ts, text=built.text, blocks=built.blocks)
    except SlackApiError as e:
        # The answer is recorded; only the message still shows the buttons.
        log.warning("tee-up message update failed: %s", api_error(e))


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    # The rep asked for it (command) or just sent the proposal: worth sending a day late,
    # and it waits while they are paused rather than being lost.
    commands.add("tee-up", tee_up_command, help_key="help.line_tee_up", aliases=("teeup",))

    @app.action(re.compile(r"^teeup_(agreed|not_asked|declined)$"))
    async def teeup_answer(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        rt.spawn(on_answer(rt, body, action, respond), name="tee-up-answer")


NUDGE_KINDS = (NudgeKind(KIND, render_tee_up, policy=KindPolicy(max_late=None, when_quiet="wait")),)
