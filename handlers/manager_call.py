"""Manager makes the call: asked for from a loss debrief's button or accepted from the
proactive offer after a streak of losses; the manager gets the deal, the rep's notes and
guess and a call script, logs the client's answer with the debrief's own modal, and the
rep is told.

The offer goes to the rep, never straight to the manager: asking your manager to call
your client is the rep's decision (seed 001's rep asked for it herself)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session, col, select

from bot import messages
from bot.messages import Built, Texts
from bot.messages import debrief as debrief_msg
from bot.messages import manager as msg
from bot.messages.blocks import actions, button
from bot.nudges.delivery import deliver
from bot.nudges.registry import NudgeKind
from bot.runtime import Runtime
from handlers.debrief_replies import (
    Click,
    deal_gone,
    load_deal,
    manager_of,
    read_click,
    tell,
    texts_for,
    update_in_place,
)
from storage import nudges
from storage.db import unit_of_work
from storage.debriefs import LOGGED, debrief_run, manager_call_run, update_data
from storage.models import Deal, Nudge, Person, RitualRun

log = logging.getLogger(__name__)

OPEN = "open"
DECLINED = "declined"

Stale = Literal["stale"]
STALE: Stale = "stale"


def parse_log_step(step: str) -> tuple[str, int | None]:
    """A loop-back button's `<role>:<draft revision>` (the part after the deal id).
    Summaries posted before revisions existed carry the role alone, or nothing."""
    role, _, rev = step.partition(":")
    return ("manager" if role == "manager" else "rep"), (int(rev) if rev.isdigit() else None)


def draft_is_stale(data: dict[str, Any], rev: int | None) -> bool:
    """Was the clicked summary replaced by a newer draft (or confirmed after one)?"""
    return rev is not None and int(data.get("draft_rev") or 0) != rev


def call_run(*, session: Session, deal_id: int) -> RitualRun | None:
    return manager_call_run(session=session, deal_id=deal_id)


ADMINS_NAMED = 3  # more mentions than this reads as a roll call, not a pointer


def admin_mentions(rt: Runtime, team_id: str) -> list[str]:
    """Blocking: the workspace admins the bot has met, as Slack mentions (a few at most):
    who a rep without a manager should ask to set one."""
    with unit_of_work(rt.engine) as session:
        ids = session.exec(
            select(Person.slack_id)
            .where(
                Person.team_id == team_id,
                col(Person.is_admin).is_(True),
                col(Person.is_bot).is_(False),
                col(Person.deleted).is_(False),
            )
            .order_by(col(Person.id))
            .limit(ADMINS_NAMED)
        ).all()
        return [f"<@{slack_id}>" for slack_id in ids]


async def no_manager_text(rt: Runtime, t: Texts, team_id: str) -> str:
    """The "no manager set" answer, naming the admins who can set one when known."""
    admins = await rt.db(admin_mentions, rt, team_id)
    if not admins:
        return t("manager.none_set")
    return t("manager.none_set_admins", admins=", ".join(admins))


def _open_call(
    rt: Runtime, *, team_id: str, deal_id: int, rep: str, manager: str
) -> tuple[int | None, bool]:
    """Blocking: the manager_call run, the manager's DM and its one reminder, in one
    transaction. Returns (DM nudge id, newly asked); asking twice is a no-op."""
    now = rt.clock.now()
    with unit_of_work(rt.engine) as session:
        deal = session.get(Deal, deal_id)
        if deal is None:
            return None, False
        existing = call_run(session=session, deal_id=deal_id)
        if existing is not None and existing.state in (OPEN, LOGGED):
            return None, False
        run = RitualRun(
            team_id=team_id,
            ritual="manager_call",
            user_slack_id=manager,
            deal_id=deal_id,
            account=deal.account,
            state=OPEN,
            data={"rep": rep},
            created_at=now,
            updated_at=now,
        )
        session.add(run)
        session.flush()
        payload = {"deal_id": deal_id, "call_id": run.id}
        dm = nudges.schedule(
            session=session,
            team_id=team_id,
            user_slack_id=manager,
            kind="manager_call_dm",
            due_at=now,
            idempotency_key=f"deal:{deal_id}:manager-call:{run.id}",
            payload=payload,
            ritual_run_id=run.id,
            now=now,
        )
        nudges.schedule(
            session=session,
            team_id=team_id,
            user_slack_id=manager,
            kind="manager_call_reminder",
            due_at=now + timedelta(days=rt.settings.debrief_reminder_days),
            idempotency_key=f"deal:{deal_id}:manager-call-reminder:{run.id}",
            payload=payload,
            ritual_run_id=run.id,
            now=now,
        )
        return dm.id, True


async def request_call(
    rt: Runtime,
    client: AsyncWebClient,
    respond: AsyncRespond,
    click: Click,
    *,
    in_place: bool,
) -> None:
    t = await texts_for(rt, click.team_id, click.user_id)
    state = await load_deal(rt, click.deal_id)
    if state is None or state.deal.id is None:
        await deal_gone(respond, t)
        return
    rep = state.deal.rep_slack_id or click.user_id
    manager = await rt.db(manager_of, rt, click.team_id, rep)
    if not manager:
        await tell(respond, await no_manager_text(rt, t, click.team_id))
        return
    nudge_id, new = await rt.db(
        _open_call, rt, team_id=click.team_id, deal_id=state.deal.id, rep=rep, manager=manager
    )
    if nudge_id is not None:
        await deliver(rt, nudge_id)
    key = "manager.asked" if new else "clicks.call_already_asked"
    text = t(key, manager=f"<@{manager}>", account=state.deal.account)
    if in_place:
        await update_in_place(
            client, click.channel, click.message_ts, debrief_msg.plain_reply(text), click.user_id
        )
    else:
        await tell(respond, text)


def _confirm(rt: Runtime, deal_id: int, rev: int | None = None) -> dict[str, Any] | Stale | None:
    """Blocking: the manager's draft becomes the call's answer; the rep's debrief counts
    as logged too (their reminders stop, `/loop prep` finds it), unless the rep logged
    their own already — and a manager's later edit replaces what the manager logged
    there before. Schedules the DM that tells the rep. STALE when the summary clicked
    is older than the latest draft."""
    now = rt.clock.now()
    with unit_of_work(rt.engine) as session:
        deal = session.get(Deal, deal_id)
        call = call_run(session=session, deal_id=deal_id)
        if deal is None or call is None:
            return None
        if draft_is_stale(call.data, rev):
            return STALE
        if not call.data.get("draft"):
            return None
        answers = dict(call.data["draft"])
        saves = int(call.data.get("saves") or 0) + 1
        kept = {k: v for k, v in call.data.items() if k != "draft"}
        call.data = {**kept, "client": answers, "logged_at": now.isoformat(), "saves": saves}
        call.state = LOGGED
        call.updated_at = now
        session.add(call)
        run = debrief_run(session=session, deal_id=deal_id)
        if run is not None and (run.state != LOGGED or run.data.get("logged_by") == "manager"):
            update_data(run, now, client=answers, logged_by="manager", logged_at=now.isoformat())
            run.state = LOGGED
            session.add(run)
        rep = str(call.data.get("rep") or deal.rep_slack_id or "")
        nudge = nudges.schedule(
            session=session,
            team_id=deal.team_id,
            user_slack_id=rep,
            kind="manager_call_result",
            due_at=now,
            idempotency_key=f"deal:{deal_id}:manager-result:{call.id}:{saves}",
            payload={"deal_id": deal_id, "call_id": call.id},
            ritual_run_id=call.id,
            now=now,
        )
        return {"rep": rep, "nudge_id": nudge.id}


async def confirm_manager_log(
    rt: Runtime,
    client: AsyncWebClient,
    respond: AsyncRespond,
    click: Click,
    t: Texts,
    *,
    rev: int | None = None,
) -> None:
    if click.deal_id is None or await load_deal(rt, click.deal_id) is None:
        await deal_gone(respond, t)
        return
    done = await rt.db(_confirm, rt, click.deal_id, rev)
    if done is None:
        return  # already saved: a double click changes nothing
    if isinstance(done, str):  # STALE: an older summary than the draft
        await tell(respond, t("log.newer_version"))
        return
    built = msg.manager_logged(t, deal_id=click.deal_id, rep=done["rep"])
    await update_in_place(client, click.channel, click.message_ts, built, click.user_id)
    if done["nudge_id"] is not None:
        await deliver(rt, int(done["nudge_id"]))


def _decline(rt: Runtime, deal_id: int) -> dict[str, Any] | None:
    now = rt.clock.now()
    with unit_of_work(rt.engine) as session:
        deal = session.get(Deal, deal_id)
        call = call_run(session=session, deal_id=deal_id)
        if deal is None or call is None or call.state != OPEN:
            return None
        call.state = DECLINED
        call.updated_at = now
        session.add(call)
        rep = str(call.data.get("rep") or deal.rep_slack_id or "")
        nudge = nudges.schedule(
            session=session,
            team_id=deal.team_id,
            user_slack_id=rep,
            kind="manager_call_declined",
            due_at=now,
            idempotency_key=f"deal:{deal_id}:manager-declined:{call.id}",
            payload={"deal_id": deal_id, "call_id": call.id},
            ritual_run_id=call.id,
            now=now,
        )
        return {"rep": rep, "nudge_id": nudge.id}


def register(app: AsyncApp, rt: Runtime) -> None:

    @app.action("manager_call_request")
    async def on_request(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        click = read_click(body, rt)
        rt.spawn(
            request_call(rt, client, respond, click, in_place=False),
            name=f"manager-call:{click.value}",
        )

    @app.action("streak_yes")
    async def on_streak_yes(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        click = read_click(body, rt)
        rt.spawn(
            request_call(rt, client, respond, click, in_place=True),
            name=f"streak-yes:{click.value}",
        )

    @app.action("streak_no")
    async def on_streak_no(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = read_click(body, rt)

        async def work() -> None:
            t = await texts_for(rt, click.team_id, click.user_id)
            built = debrief_msg.plain_reply(t("manager.offer_declined"))
            await update_in_place(client, click.channel, click.message_ts, built, click.user_id)

        rt.spawn(work(), name=f"streak-no:{click.value}")

    @app.action("manager_decline")
    async def on_decline(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        click = read_click(body, rt)

        async def work() -> None:
            t = await texts_for(rt, click.team_id, click.user_id)
            if click.deal_id is None or await load_deal(rt, click.deal_id) is None:
                await deal_gone(respond, t)
                return
            done = await rt.db(_decline, rt, click.deal_id)
            if done is None:
                return
            built = debrief_msg.plain_reply(t("manager.declined_ack", rep=f"<@{done['rep']}>"))
            await update_in_place(client, click.channel, click.message_ts, built, click.user_id)
            if done["nudge_id"] is not None:
                await deliver(rt, int(done["nudge_id"]))

        rt.spawn(work(), name=f"manager-decline:{click.value}")


# --- nudges ---------------------------------------------------------------------------


def _read(rt: Runtime, nudge: Nudge) -> tuple[Deal, RitualRun | None, RitualRun | None] | None:
    """Blocking: the deal, the manager call named by the nudge, the rep's debrief."""
    deal_id = int(nudge.payload.get("deal_id") or 0)
    with unit_of_work(rt.engine) as session:
        deal = session.get(Deal, deal_id)
        if deal is None:
            return None
        call_id = nudge.payload.get("call_id")
        call = session.get(RitualRun, int(call_id)) if call_id else None
        return deal, call, debrief_run(session=session, deal_id=deal_id)


def _local_date(deal: Deal, tz: str | None) -> str:
    when = deal.created_at
    if when is None:
        return ""
    try:
        return when.astimezone(ZoneInfo(tz) if tz else None).strftime("%Y-%m-%d")
    except (KeyError, ValueError):
        return when.strftime("%Y-%m-%d")


async def render_streak_offer(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    found = await rt.db(_read, rt, nudge)
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
        admins = await rt.db(admin_mentions, rt, nudge.team_id)
        who = t("manager.an_admin", admins=", ".join(admins)) if admins else t("manager.your_admin")
        return msg.streak_no_manager(t, deal_id=deal.id, account=deal.account, count=count, who=who)
    return msg.streak_offer(
        t, deal_id=deal.id, account=deal.account, count=count, manager=f"<@{manager}>"
    )


async def render_manager_dm(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    found = await rt.db(_read, rt, nudge)
    if found is None:
        return None
    deal, call, run = found
    if call is None or call.state != OPEN or deal.id is None:
        return None
    t = Texts(rt.catalog, person.locale)
    data = run.data if run is not None else {}
    return msg.manager_dm(
        t,
        deal_id=deal.id,
        rep=str(call.data.get("rep") or deal.rep_slack_id or ""),
        account=deal.account,
        amount=messages.format_amount(deal.amount, deal.currency) or t("common.not_set"),
        date=_local_date(deal, person.tz),
        notes=data.get("client") or data.get("draft"),
        guess=data.get("guess"),
    )


async def render_call_reminder(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    found = await rt.db(_read, rt, nudge)
    if found is None:
        return None
    deal, call, _run = found
    if call is None or call.state != OPEN or deal.id is None:
        return None
    return msg.manager_call_reminder(
        Texts(rt.catalog, person.locale),
        deal_id=deal.id,
        rep=str(call.data.get("rep") or deal.rep_slack_id or ""),
        account=deal.account,
        days=rt.settings.debrief_reminder_days,
    )


async def render_result(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    found = await rt.db(_read, rt, nudge)
    if found is None:
        return None
    deal, call, run = found
    if call is None or not call.data.get("client"):
        return None
    return msg.rep_result(
        Texts(rt.catalog, person.locale),
        manager=call.user_slack_id,
        account=deal.account,
        answers=call.data["client"],
        guess=(run.data.get("guess") if run is not None else None),
    )


async def render_declined(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    found = await rt.db(_read, rt, nudge)
    if found is None:
        return None
    deal, call, _run = found
    if call is None or deal.id is None:
        return None
    t = Texts(rt.catalog, person.locale)
    text = t("manager.rep_declined", manager=f"<@{call.user_slack_id}>", account=deal.account)
    ready = button(t("mode.button_ready"), "debrief_start", str(deal.id), style="primary")
    return debrief_msg.plain_reply(text, actions("declined", ready))


NUDGE_KINDS = (
    NudgeKind("loss_streak_offer", render_streak_offer),
    NudgeKind("manager_call_dm", render_manager_dm),
    NudgeKind("manager_call_reminder", render_call_reminder),
    NudgeKind("manager_call_result", render_result),
    NudgeKind("manager_call_declined", render_declined),
)
