"""Manager makes the call: asked for from a loss debrief's button or accepted from the
proactive offer after a streak of losses — or handed to a trusted colleague the rep
picks. From then on the caller owns it: the rep's own reminders stop, the caller gets
the deal, the rep's notes and guess and a call script, one reminder, the call in their
App Home, and their own form (what the client said, is the door open, the next step);
the rep gets that answer beside their guess.

The offer goes to the rep, never straight to the manager: asking your manager to call
your client is the rep's decision (seed 001's rep asked for it herself)."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.clock import zone_of
from bot.messages import Built, Texts
from bot.messages import debrief as debrief_msg
from bot.messages import manager as msg
from bot.messages import reasons as reasons_msg
from bot.messages.blocks import read_metadata
from bot.nudges.delivery import deliver
from bot.nudges.registry import NudgeKind
from bot.runtime import Runtime
from bot.slack import ids
from bot.slack.acks import open_view_after_ack
from bot.slack.people import load_person
from bot.workspace_settings import effective
from handlers.common import DealClick, deal_button, rt_of
from handlers.deal_intake import refresh_deal_dm
from handlers.debrief_replies import (
    deal_gone,
    load_deal,
    manager_for,
    no_manager_text,
    open_call_log,
    parse_deal_id,
    post_dm,
    read_click,
    team_of,
    tell,
    texts_for,
    update_in_place,
)
from storage import debriefs
from storage.kinds import Kind
from storage.models import Deal, Nudge, Person, RitualRun

log = logging.getLogger(__name__)


def _already(t: Texts, ask: debriefs.CallAsk, account: str) -> str:
    """A second ask names who has the call, and whether they made it already."""
    key = "call.already_logged" if ask.state == debriefs.LOGGED else "call.already_open"
    return t(key, caller=f"<@{ask.caller}>", account=account)


def _existing(c: DealClick) -> debriefs.CallAsk | None:
    call = c.state.call
    if call is None or not debriefs.live_call(call):
        return None
    return debriefs.CallAsk(None, False, call.user_slack_id, call.state)


async def ask_caller(
    rt: Runtime, *, team_id: str, deal: Deal, rep: str, caller: str, colleague: bool
) -> debriefs.CallAsk | None:
    """Hand the call to `caller`: their DM goes out at once."""
    assert deal.id is not None
    ask = await rt.tx(
        debriefs.open_call,
        team_id=team_id,
        deal_id=deal.id,
        rep=rep,
        caller=caller,
        now=rt.clock.now(),
        reminder_days=(await effective(rt, team_id)).debrief_reminder_days,
        colleague=colleague,
    )
    if ask is not None and ask.nudge_id is not None:
        await deliver(rt, ask.nudge_id)
    return ask


async def request_call(c: DealClick, *, in_place: bool) -> None:
    """Ask the rep's manager to make the call: the manager's DM goes out at once; the
    rep hears it was asked — or, asking again, who has it already — or who can set a
    manager when none is."""
    rt, t, deal = c.rt, c.t, c.state.deal
    rep = deal.rep_slack_id or c.click.user_id
    ask = _existing(c)
    if ask is None:
        manager = await manager_for(rt, c.click.team_id, rep)
        if not manager:
            # No manager to ask, but the call can still be someone else's: say so.
            none = await no_manager_text(rt, t, c.click.team_id)
            await tell(c.respond, f"{none} {t('call.or_colleague')}")
            return
        ask = await ask_caller(
            rt, team_id=c.click.team_id, deal=deal, rep=rep, caller=manager, colleague=False
        )
    if ask is None:
        await deal_gone(c.respond, t)
        return
    # The deal DM's "Ask my manager to call" makes way for who was asked.
    await refresh_deal_dm(rt, c.deal_id)
    if ask.new:
        text = t("manager.asked", manager=f"<@{ask.caller}>", account=deal.account)
    else:
        text = _already(t, ask, deal.account)
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
    done = await c.rt.tx(
        debriefs.decline_call,
        deal_id=c.deal_id,
        now=c.rt.clock.now(),
        reminder_days=(await effective(c.rt, c.state.deal.team_id)).debrief_reminder_days,
    )
    if done is None:
        return
    built = debrief_msg.plain_reply(c.t("manager.declined_ack", rep=f"<@{done.rep}>"))
    await update_in_place(c.rt, c.click, built)
    # The call is the rep's again: their deal DM offers the ask once more.
    await refresh_deal_dm(c.rt, c.deal_id)
    if done.nudge_id is not None:
        await deliver(c.rt, done.nudge_id)


@deal_button("call-log-open")
async def on_log_open(c: DealClick) -> None:
    """ "Log the call", from the caller's DM, their reminder or their App Home."""
    open_call_log(c.rt, c.client, c.click, c.t, c.state)


async def on_log_submitted(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The caller's answers wait as a draft; the loop-back asks "Did I get that right?"
    and its Confirm (handlers/debrief_replies.py) tells the rep."""
    rt = rt_of(context)
    view = body["view"]
    user_id = str(body["user"]["id"])
    team_id = team_of(body, rt)
    t = await texts_for(rt, team_id, user_id)
    deal_id = parse_deal_id(str(read_metadata(view).get(ids.META_DEAL)))
    answers = msg.read_call_answers(view["state"]["values"])
    errors = {
        name: t("errors.required_field") for name in sorted(msg.CALL_REQUIRED) if not answers[name]
    }
    kind, kind_errors = reasons_msg.read_reason(t, view["state"]["values"])
    answers.update(kind)
    errors.update(kind_errors)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    stored = (
        await rt.tx(
            debriefs.store_draft,
            deal_id=deal_id,
            role="manager",
            answers=answers,
            now=rt.clock.now(),
        )
        if deal_id
        else None
    )
    if stored is None or stored[0].id is None or stored[1] is None:
        # Keep the modal open with what they typed; closing it would lose it all.
        await ack(response_action="errors", errors={"heard": t("errors.deal_gone")})
        return
    await ack()
    deal, rev = stored
    assert deal.id is not None
    summary = msg.call_summary(t, deal_id=deal.id, account=deal.account, answers=answers, rev=rev)
    rt.spawn(post_dm(rt, team_id, user_id, summary), name=f"call-summary:{deal_id}")


# --- a trusted colleague instead ---------------------------------------------------------

PERSON_CHECK_BUDGET = 1.0


@deal_button("call-pick-open")
async def on_pick_open(c: DealClick) -> None:
    """ "Ask a colleague instead": who makes the call is the rep's pick. A call already
    handed over is said so, not asked twice."""
    ask = _existing(c)
    if ask is not None:
        await tell(c.respond, _already(c.t, ask, c.state.deal.account))
        return
    view = msg.pick_modal(c.t, deal_id=c.deal_id, account=c.state.deal.account)
    open_view_after_ack(c.rt, c.client, c.click.trigger_id, view, name=ids.CALL_PICK_VIEW)


async def _pick_problem(rt: Runtime, state: debriefs.DealState | None, chosen: str) -> str | None:
    """The catalog key of what is wrong with the person picked, or None."""
    if state is None or state.deal.id is None:
        return "errors.deal_gone"
    if not chosen or chosen == state.deal.rep_slack_id:
        return "call.pick.not_yourself"
    try:
        person = await asyncio.wait_for(
            load_person(rt, team_id=state.deal.team_id, user_id=chosen), PERSON_CHECK_BUDGET
        )
    except TimeoutError:
        return None  # Slack is slow, not saying no: the caller's DM will tell
    except SlackApiError:
        return "call.pick.not_person"  # no such user: a forged or mistyped id
    if person.is_bot or person.deleted:
        return "call.pick.not_person"
    return None


async def on_pick_submitted(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The rep picked who calls: that person gets the caller's DM (bot/access.py lets
    them, and only them, log it); the rep is told in their DM."""
    rt = rt_of(context)
    view = body["view"]
    user_id = str(body["user"]["id"])
    team_id = team_of(body, rt)
    t = await texts_for(rt, team_id, user_id)
    deal_id = parse_deal_id(str(read_metadata(view).get(ids.META_DEAL)))
    picked = ((view["state"]["values"].get(ids.CALL_PICK_BLOCK) or {}).get(ids.FIELD_VALUE)) or {}
    chosen = str(picked.get("selected_user") or "") if isinstance(picked, dict) else ""
    state = await load_deal(rt, deal_id)
    problem = await _pick_problem(rt, state, chosen)
    if problem is not None:
        await ack(response_action="errors", errors={ids.CALL_PICK_BLOCK: t(problem)})
        return
    await ack()
    assert state is not None
    deal = state.deal
    rep = deal.rep_slack_id or user_id

    async def work() -> None:
        manager = await manager_for(rt, team_id, rep)
        ask = await ask_caller(
            rt, team_id=team_id, deal=deal, rep=rep, caller=chosen, colleague=chosen != manager
        )
        if ask is None:
            return
        if deal.id is not None:
            await refresh_deal_dm(rt, deal.id)
        if ask.new:
            text = t("manager.asked", manager=f"<@{ask.caller}>", account=deal.account)
        else:
            text = _already(t, ask, deal.account)
        await post_dm(rt, team_id, user_id, debrief_msg.plain_reply(text))

    rt.spawn(work(), name=f"call-pick:{deal_id}")


def register(app: AsyncApp, rt: Runtime) -> None:
    app.action(ids.MANAGER_CALL_REQUEST)(on_request)
    app.action(ids.STREAK_YES)(on_streak_yes)
    app.action(ids.STREAK_NO)(on_streak_no)
    app.action(ids.MANAGER_DECLINE)(on_decline)
    app.action(ids.MANAGER_LOG_OPEN)(on_log_open)
    app.view(ids.CALL_LOG_VIEW)(on_log_submitted)
    app.action(ids.CALL_PICK_OPEN)(on_pick_open)
    app.view(ids.CALL_PICK_VIEW)(on_pick_submitted)


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
    count = int(nudge.payload.get("count") or (await effective(rt, nudge.team_id)).loss_streak)
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
        amount=messages.format_amount(deal.amount, deal.currency, t.lang),
        date=_local_date(deal, person.tz),
        notes=data.client or data.draft,
        guess=data.guess,
        colleague=bool(debriefs.call_data(call).colleague),
        outcome=deal.outcome,
        guess_category=data.guess_category,
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
        days=(await effective(rt, nudge.team_id)).debrief_reminder_days,
    )


async def render_result(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    found = await _read(rt, nudge)
    if found is None:
        return None
    deal, call, run = found
    answers = debriefs.call_data(call).client if call is not None else None
    if call is None or not answers:
        return None
    data = debriefs.debrief_data(run) if run is not None else debriefs.DebriefData()
    return msg.rep_result(
        Texts(rt.catalog, person.locale),
        manager=call.user_slack_id,
        account=deal.account,
        answers=answers,
        guess=data.guess,
        guess_category=data.guess_category,
        deal_id=deal.id,
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
