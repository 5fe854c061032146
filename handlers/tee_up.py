"""Tee it up: before the proposal goes out, ask the client to agree a 5–10 minute
debrief in case the answer is no or not now.

Triggers: `/loop tee-up <account>`, or a deals-channel message (taken in by
handlers/deal_intake.py) saying the deal moved into the proposal stage or the proposal is
about to go out ("Proposal/Price Quote", "proposal drafted"). A "proposal sent" message
gets the follow-up version: ask when you confirm they received it. Each sends the rep one
DM (a `tee_up` nudge) with the ask and three buttons; a click records a `tee_up`
RitualRun whose `data["agreed"]` the account's later debrief reads. After "agreed" or
"declined" nothing more is sent until the deal closes; "not asked yet" brings the ask
back in a couple of days.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot.accounts import parse_account
from bot.messages import Built, Texts
from bot.messages.tee_up import ANSWERS, answer_text, tee_up_dm
from bot.nudges.delivery import deliver
from bot.nudges.registry import KindPolicy, NudgeKind
from bot.runtime import Runtime
from bot.slack import ids
from bot.slack.clicks import clicked, put_in_place
from bot.slack.people import load_person
from handlers.common import rt_of
from handlers.debrief_replies import tell
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from storage import tee_ups
from storage.kinds import TeeUpState
from storage.models import Nudge, Person

log = logging.getLogger(__name__)

KIND = tee_ups.KIND
FOLLOWUP_DAYS = 2
# A deal's proposal shows up in the channel several times (the CRM's stage move, the rep's
# "proposal drafted", then "proposal sent"): within this many days it is one ask.
REPEAT_DAYS = 30
ANSWER_ACTIONS = re.compile(
    rf"^(?:{ids.TEE_UP_AGREED}|{ids.TEE_UP_NOT_ASKED}|{ids.TEE_UP_DECLINED})$"
)


async def render_tee_up(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    account = str(nudge.payload.get("account") or "")
    if not account:
        return None
    if nudge.payload.get("followup_of") and await rt.tx(
        tee_ups.decided_since, write=False, nudge=nudge
    ):
        return None
    first_ask = not nudge.payload.get("followup_of")
    if (
        first_ask
        and nudge.payload.get("source") == "channel"
        and await rt.tx(
            tee_ups.already_asked,
            write=False,
            nudge=nudge,
            since=rt.clock.now() - timedelta(days=REPEAT_DAYS),
        )
    ):
        return None
    assert nudge.id is not None
    followup = bool(nudge.payload.get("followup_of"))
    t = Texts(rt.catalog, person.locale)
    return tee_up_dm(
        t,
        account=account,
        nudge_id=nudge.id,
        followup=followup,
        sent=bool(nudge.payload.get("sent")),
    )


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
        nudge_id = await rt.tx(
            tee_ups.schedule_tee_up,
            team_id=call.team_id,
            rep=call.user_id,
            account=account,
            key=key,
            source="command",
            now=rt.clock.now(),
        )
        if nudge_id is not None:
            await deliver(rt, nudge_id)

    rt.spawn(work(), name=f"tee-up-command:{call.user_id}")


async def answer(
    rt: Runtime,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond | None = None,
) -> None:
    """Record the answer, then show it in the DM in place of the buttons."""
    state = TeeUpState(ANSWERS[str(action.get("action_id"))][0])
    user_id = str((body.get("user") or {}).get("id") or "")
    value = str(action.get("value") or "")
    nudge_id = int(value) if value.isdigit() else None
    before = await rt.tx(tee_ups.answer_of, write=False, nudge_id=nudge_id) if nudge_id else None
    nudge = (
        await rt.tx(
            tee_ups.record_answer,
            nudge_id=nudge_id,
            user_id=user_id,
            state=state,
            now=rt.clock.now(),
            followup_after=timedelta(days=FOLLOWUP_DAYS),
        )
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
    await _show_answer(rt, body, nudge, user_id, state, respond, again=before == state)


async def _show_answer(
    rt: Runtime,
    body: dict[str, Any],
    nudge: Nudge,
    user_id: str,
    state: str,
    respond: AsyncRespond | None,
    *,
    again: bool,
) -> None:
    """The message shows the answer in place of its buttons; the same answer again (a
    double click, an old copy) changes nothing more and says so."""
    assert nudge.id is not None
    person = await load_person(rt, team_id=nudge.team_id, user_id=user_id)
    t = Texts(rt.catalog, person.locale)
    account = str(nudge.payload.get("account") or "")
    reply = answer_text(t, state, account=account, days=FOLLOWUP_DAYS)
    followup = bool(nudge.payload.get("followup_of"))
    built = tee_up_dm(
        t,
        account=account,
        nudge_id=nudge.id,
        answer=reply,
        chosen=state,
        followup=followup,
        sent=bool(nudge.payload.get("sent")),
    )
    channel, ts = clicked(body)[2:4]
    shown = await put_in_place(rt.client, respond, channel=channel, ts=ts, built=built)
    label = t(ANSWERS[str((body.get("actions") or [{}])[0].get("action_id"))][1])
    if again and respond is not None:
        await tell(respond, t("state.already_answered", choice=label))
    elif not shown and respond is not None:
        await tell(respond, t("state.kept_not_shown", choice=label))


async def on_tee_up_answer(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    await ack()
    rt = rt_of(context)
    rt.spawn(answer(rt, body, action, respond), name="tee-up-answer")


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("tee-up", tee_up_command, help_key="help.line_tee_up", aliases=("teeup",))
    app.action(ANSWER_ACTIONS)(on_tee_up_answer)


# The rep asked for it (command) or just sent the proposal: worth sending a day late,
# and it waits while they are paused rather than being lost.
NUDGE_KINDS = (NudgeKind(KIND, render_tee_up, policy=KindPolicy(max_late=None, when_quiet="wait")),)
