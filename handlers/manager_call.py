"""Manager makes the call: asked for from a loss debrief's button or accepted from the
proactive offer after a streak of losses; the manager gets the deal, the rep's notes and
guess and a call script, logs the client's answer with the debrief's own modal, and the
rep is told.

The offer goes to the rep, never straight to the manager: asking your manager to call
your client is the rep's decision (seed 001's rep asked for it herself)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.clock import zone_of
from bot.messages import Built, Texts
from bot.messages import debrief as debrief_msg
from bot.messages import manager as msg
from bot.nudges.delivery import deliver
from bot.nudges.registry import NudgeKind
from bot.runtime import Runtime
from bot.slack import ids
from handlers.common import DealClick, deal_button, rt_of
from handlers.debrief_replies import (
    manager_for,
    no_manager_text,
    read_click,
    tell,
    texts_for,
    update_in_place,
)
from storage import debriefs
from storage.kinds import Kind
from storage.models import Deal, Nudge, Person, RitualRun

log = logging.getLogger(__name__)


async def request_call(c: DealClick, *, in_place: bool) -> None:
    """Ask the rep's manager to make the call: the manager's DM goes out at once; the
    rep hears it was asked (or already was), or who can set a manager when none is."""
    rt, t, deal = c.rt, c.t, c.state.deal
    rep = deal.rep_slack_id or c.click.user_id
    manager = await manager_for(rt, c.click.team_id, rep)
    if not manager:
        await tell(c.respond, await no_manager_text(rt, t, c.click.team_id))
        return
    nudge_id, new = await rt.tx(
        debriefs.open_call,
        team_id=c.click.team_id,
        deal_id=c.deal_id,
        rep=rep,
        manager=manager,
        now=rt.clock.now(),
        reminder_days=rt.settings.debrief_reminder_days,
    )
    if nudge_id is not None:
        await deliver(rt, nudge_id)
    key = "manager.asked" if new else "clicks.call_already_asked"
    text = t(key, manager=f"<@{manager}>", account=deal.account)
    if in_place:
        built = debrief_msg.plain_reply(text)
        await update_in_place(c.rt, c.click, built)
    else:
        await tell(c.respond, text)


@deal_button("manager-call")
async def on_request(c: DealClick) -> None:
    await request_call(c, in_place=False)


@deal_button("streak-yes")
async def on_streak_yes(c: DealClick) -> None:
    await request_call(c, in_place=True)


async def on_streak_no(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)
    click = read_click(body, rt)

    async def work() -> None:
        t = await texts_for(rt, click.team_id, click.user_id)
        built = debrief_msg.plain_reply(t("manager.offer_declined"))
        await update_in_place(rt, click, built)

    rt.spawn(work(), name=f"streak-no:{click.value}")


@deal_button("manager-decline")
async def on_decline(c: DealClick) -> None:
    done = await c.rt.tx(debriefs.decline_call, deal_id=c.deal_id, now=c.rt.clock.now())
    if done is None:
        return
    built = debrief_msg.plain_reply(c.t("manager.declined_ack", rep=f"<@{done.rep}>"))
    await update_in_place(c.rt, c.click, built)
    if done.nudge_id is not None:
        await deliver(c.rt, done.nudge_id)


def register(app: AsyncApp, rt: Runtime) -> None:
    app.action(ids.MANAGER_CALL_REQUEST)(on_request)
    app.action(ids.STREAK_YES)(on_streak_yes)
    app.action(ids.STREAK_NO)(on_streak_no)
    app.action(ids.MANAGER_DECLINE)(on_decline)


# --- nudges ---------------------------------------------------------------------------

Found = tuple[Deal, RitualRun | None, RitualRun | None]


async def _read(rt: Runtime, nudge: Nudge) -> Found | None:
    """The deal, the manager call named by the nudge, the rep's debrief."""
    call_id = nudge.payload.get("call_id")
    return await rt.tx(
        debriefs.call_context,
        write=False,
        deal_id=int(nudge.payload.get("deal_id") or 0),
        call_id=int(call_id) if call_id else None,
    )


def _local_date(deal: Deal, tz: str | None) -> date | str:
    """The deal's day in the reader's zone (Texts writes it their way)."""
    when = deal.created_at
    if when is None:
        return ""
    try:
        return when.astimezone(zone_of(tz)).date()
    except (KeyError, ValueError):
        return when.date()


def _rep(call: RitualRun, deal: Deal) -> str:
    return str(debriefs.call_data(call).rep or deal.rep_slack_id or "")


async def render_streak_offer(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    found = await _read(rt, nudge)
    if found is None:
        return None
    deal, _call, _run = found
    assert deal.id is not None
    t = Texts(rt.catalog, person.locale)
    manager = person.manager_slack_id
    count = int(nudge.payload.get("count") or rt.settings.loss_streak)
    if not manager:
        # Offering "shall I ask your manager?" only to answer "you have none" on Yes
        # wastes the rep's click: say who can set one, and point to the script instead.
        admins = await rt.tx(debriefs.admin_mentions, write=False, team_id=nudge.team_id)
        who = t("manager.an_admin", admins=", ".join(admins)) if admins else t("manager.your_admin")
        return msg.streak_no_manager(t, deal_id=deal.id, account=deal.account, count=count, who=who)
    return msg.streak_offer(
        t, deal_id=deal.id, account=deal.account, count=count, manager=f"<@{manager}>"
    )


async def render_manager_dm(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    found = await _read(rt, nudge)
    if found is None:
        return None
    deal, call, run = found
    if call is None or call.state != debriefs.OPEN or deal.id is None:
        return None
    t = Texts(rt.catalog, person.locale)
    data = debriefs.debrief_data(run) if run is not None else debriefs.DebriefData()
    return msg.manager_dm(
        t,
        deal_id=deal.id,
        rep=_rep(call, deal),
        account=deal.account,
        amount=messages.format_amount(deal.amount, deal.currency, t.lang) or t("common.not_set"),
        date=_local_date(deal, person.tz),
        notes=data.client or data.draft,
        guess=data.guess,
    )


async def render_call_reminder(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    found = await _read(rt, nudge)
    if found is None:
        return None
    deal, call, _run = found
    if call is None or call.state != debriefs.OPEN or deal.id is None:
        return None
    return msg.manager_call_reminder(
        Texts(rt.catalog, person.locale),
        deal_id=deal.id,
        rep=_rep(call, deal),
        account=deal.account,
        days=rt.settings.debrief_reminder_days,
    )


async def render_result(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    found = await _read(rt, nudge)
    if found is None:
        return None
    deal, call, run = found
    answers = debriefs.call_data(call).client if call is not None else None
    if call is None or not answers:
        return None
    return msg.rep_result(
        Texts(rt.catalog, person.locale),
        manager=call.user_slack_id,
        account=deal.account,
        answers=answers,
        guess=(debriefs.debrief_data(run).guess if run is not None else None),
    )


async def render_declined(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    found = await _read(rt, nudge)
    if found is None:
        return None
    deal, call, _run = found
    if call is None or deal.id is None:
        return None
    return msg.call_declined(
        Texts(rt.catalog, person.locale),
        deal_id=deal.id,
        manager=call.user_slack_id,
        account=deal.account,
    )


NUDGE_KINDS = (
    NudgeKind(Kind.LOSS_STREAK_OFFER, render_streak_offer),
    NudgeKind(Kind.MANAGER_CALL_DM, render_manager_dm),
    NudgeKind(Kind.MANAGER_CALL_REMINDER, render_call_reminder),
    NudgeKind(Kind.MANAGER_CALL_RESULT, render_result),
    NudgeKind(Kind.MANAGER_CALL_DECLINED, render_declined),
)
