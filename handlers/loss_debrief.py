"""Loss and no-decision debriefs: heard / helped / hugged, the three-stage call script,
the rep's own guess first, and the client's answer logged with a loop-back
("Did I get that right?") before it is saved. Also the debrief reminders.

The log modal is shared with the manager who makes the call (`as: manager` in its
private_metadata); what differs after Confirm lives in handlers/manager_call.py."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func
from sqlmodel import col, select

from bot.messages import Texts
from bot.messages import debrief as msg
from bot.messages.blocks import read_metadata
from bot.nudges.delivery import Message, deliver
from bot.nudges.registry import NudgeKind
from bot.runtime import Runtime
from bot.slack.acks import open_view_after_ack
from bot.slack.clicks import claim_choice, show_choice
from handlers import manager_call
from handlers.debrief_replies import (
    Click,
    audience,
    deal_gone,
    load_deal,
    manager_of,
    parse_deal_id,
    post_dm,
    read_click,
    schedule_now,
    team_of,
    tell,
    texts_for,
    update_in_place,
)
from handlers.loop_command import CommandCall, LoopCommand
from storage import nudges
from storage.db import unit_of_work
from storage.debriefs import LOGGED, debrief_run, update_data
from storage.models import Deal, Nudge, Person, RitualRun

log = logging.getLogger(__name__)

MODES = ("heard", "helped", "hugged")


def _save_run(rt: Runtime, run_id: int | None, **changes: Any) -> RitualRun | None:
    """Blocking: merge `changes` into a run's data; `state=` sets the state too."""
    if run_id is None:
        return None
    now = rt.clock.now()
    state = changes.pop("state", None)
    with unit_of_work(rt.engine) as session:
        run = session.get(RitualRun, run_id)
        if run is None:
            return None
        update_data(run, now, **changes)
        if state:
            run.state = state
        session.add(run)
        return run


async def _script(
    rt: Runtime, client: AsyncWebClient, click: Click, t: Texts, *, stage: str, new: bool
) -> None:
    state = await load_deal(rt, click.deal_id)
    if state is None or state.run is None:
        return
    deal, run = state.deal, state.run
    assert deal.id is not None
    built = msg.script_message(
        t,
        deal_id=deal.id,
        account=deal.account,
        outcome=deal.outcome,
        stage=stage,
        guess=run.data.get("guess"),
    )
    if new:
        channel, ts = await post_dm(client, click.user_id, built, channel=click.channel)
    else:
        channel, ts = await update_in_place(
            client, click.channel, click.message_ts, built, click.user_id
        )
    await rt.db(_save_run, rt, run.id, stage=stage, script_channel=channel, script_ts=ts)


async def _open_log(
    rt: Runtime, client: AsyncWebClient, respond: AsyncRespond, click: Click, role: str
) -> None:
    t = await texts_for(rt, click.team_id, click.user_id)
    state = await load_deal(rt, click.deal_id)
    if state is None or state.deal.id is None:
        await deal_gone(respond, t)
        return
    if role == "manager" and (state.call is None or state.call.user_slack_id != click.user_id):
        # Only the manager who was asked logs the call; anyone else gets the rep's form.
        role = "rep"
    run = state.call if role == "manager" else state.run
    data = run.data if run is not None else {}
    initial = data.get("draft") or data.get("client")
    view = msg.loss_log_modal(
        t, deal_id=state.deal.id, role=role, initial=initial, audience=audience(t, state, role)
    )
    open_view_after_ack(rt, client, click.trigger_id, view, name="loss_log")


def _store_draft(
    rt: Runtime, deal_id: int, role: str, answers: dict[str, str]
) -> tuple[Deal, int | None] | None:
    """Blocking: the answers wait as a draft until the loop-back is confirmed. Each
    draft gets the next revision number, which its summary's buttons carry: Confirm on
    an older summary must not save answers the reader was never shown."""
    now = rt.clock.now()
    with unit_of_work(rt.engine) as session:
        deal = session.get(Deal, deal_id)
        if deal is None:
            return None
        run = (
            manager_call.call_run(session=session, deal_id=deal_id)
            if role == "manager"
            else debrief_run(session=session, deal_id=deal_id)
        )
        if run is None:
            return deal, None
        rev = int(run.data.get("draft_rev") or 0) + 1
        update_data(run, now, draft=answers, draft_rev=rev)
        session.add(run)
        return deal, rev


def _confirm_rep(
    rt: Runtime, deal_id: int, rev: int | None
) -> tuple[Deal, dict[str, str], str | None] | manager_call.Stale | None:
    """Blocking: the draft becomes the logged answer. None when there is no draft
    (a second click on an already confirmed summary); STALE when the summary clicked
    is older than the latest draft."""
    now = rt.clock.now()
    with unit_of_work(rt.engine) as session:
        deal = session.get(Deal, deal_id)
        run = debrief_run(session=session, deal_id=deal_id)
        if deal is None or run is None:
            return None
        if manager_call.draft_is_stale(run.data, rev):
            return manager_call.STALE
        if not run.data.get("draft"):
            return None
        answers = dict(run.data["draft"])
        data = {k: v for k, v in run.data.items() if k != "draft"}
        run.data = {**data, "client": answers, "logged_at": now.isoformat(), "logged_by": "rep"}
        run.state = LOGGED
        run.updated_at = now
        session.add(run)
        return deal, answers, run.data.get("guess")


def _latest_debrief(
    rt: Runtime, team_id: str, user_id: str, account: str
) -> tuple[Deal, RitualRun] | None:
    """Blocking: the caller's most recent closed deal with this account (names typed by
    hand, so case-insensitive) and its debrief."""
    with unit_of_work(rt.engine) as session:
        deals = session.exec(
            select(Deal)
            .where(
                Deal.team_id == team_id,
                Deal.rep_slack_id == user_id,
                func.lower(Deal.account) == account.strip().lower(),
            )
            .order_by(col(Deal.created_at).desc(), col(Deal.id).desc())
        ).all()
        for deal in deals:
            run = debrief_run(session=session, deal_id=int(deal.id or 0))
            if run is not None:
                return deal, run
        return None


async def debrief_command(call: CommandCall) -> None:
    """`/loop debrief <account>`: back to a debrief whose DM scrolled away — the win
    log for a win, the guess and the call script for a loss."""
    t, rt = call.t, call.rt
    account = call.args.strip().strip('*_`"')
    if not account:
        await call.reply(t("debrief.usage"))
        return
    found = await rt.db(_latest_debrief, rt, call.team_id, call.user_id, account)
    if found is None:
        await call.reply(t("debrief.not_found", account=account[:100]))
        return
    deal, run = found
    assert deal.id is not None
    await call.ack()
    if deal.outcome == "won":
        view = msg.win_log_modal(t, deal_id=deal.id, initial=run.data.get("win"))
        open_view_after_ack(rt, call.client, call.trigger_id, view, name="win_log")
        return
    click = Click(
        team_id=call.team_id,
        user_id=call.user_id,
        value=str(deal.id),
        channel=None,
        message_ts=None,
        trigger_id=None,
    )
    rt.spawn(_script(rt, call.client, click, t, stage="opener", new=True), name="debrief-cmd")


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("debrief", debrief_command, help_key="help.line_debrief")

    @app.action(re.compile(r"^loss_mode_(heard|helped|hugged)$"))
    async def on_mode(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        click = read_click(body, rt)
        mode = str(body["actions"][0]["action_id"]).rsplit("_", 1)[1]

        async def work() -> None:
            t = await texts_for(rt, click.team_id, click.user_id)
            state = await load_deal(rt, click.deal_id)
            if state is None or state.deal.id is None:
                await deal_gone(respond, t)
                return
            if state.run is not None:
                # The same mode clicked again (a double-click) changes nothing.
                if not await rt.db(claim_choice, rt, state.run.id, "mode", mode):
                    return
                await show_choice(t, client, respond, body)
            reply = msg.mode_reply(t, mode=mode, deal_id=state.deal.id, account=state.deal.account)
            await post_dm(client, click.user_id, reply, channel=click.channel)
            if mode == "helped":
                await _script(rt, client, click, t, stage="opener", new=True)

        rt.spawn(work(), name=f"loss-mode:{click.value}")

    @app.action("debrief_start")
    async def on_start(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        click = read_click(body, rt)

        async def work() -> None:
            t = await texts_for(rt, click.team_id, click.user_id)
            if await load_deal(rt, click.deal_id) is None:
                await deal_gone(respond, t)
                return
            await _script(rt, client, click, t, stage="opener", new=True)

        rt.spawn(work(), name=f"debrief-start:{click.value}")

    @app.action("debrief_next")
    async def on_next(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        click = read_click(body, rt)
        stage = click.step if click.step in msg.STAGES else "opener"

        async def work() -> None:
            t = await texts_for(rt, click.team_id, click.user_id)
            if await load_deal(rt, click.deal_id) is None:
                await deal_gone(respond, t)
                return
            await _script(rt, client, click, t, stage=stage, new=False)

        rt.spawn(work(), name=f"debrief-next:{click.value}")

    @app.action("guess_open")
    async def on_guess_open(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        click = read_click(body, rt)
        t = await texts_for(rt, click.team_id, click.user_id)
        state = await load_deal(rt, click.deal_id)
        if state is None or state.deal.id is None:
            await deal_gone(respond, t)
            return
        initial = state.run.data.get("guess") if state.run else None
        view = msg.guess_modal(
            t, deal_id=state.deal.id, initial=initial, audience=audience(t, state, "rep")
        )
        open_view_after_ack(rt, client, click.trigger_id, view, name="guess_log")

    @app.view("guess_log")
    async def on_guess_saved(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        user_id = str(body["user"]["id"])
        team_id = team_of(body, rt)
        t = await texts_for(rt, team_id, user_id)
        guess = msg.read_text_values(view["state"]["values"], ["guess"])["guess"]
        deal_id = parse_deal_id(str(read_metadata(view).get("deal")))
        state = await load_deal(rt, deal_id)
        if not guess:
            await ack(response_action="errors", errors={"guess": t("errors.required_field")})
            return
        if state is None or state.run is None:
            await ack(response_action="errors", errors={"guess": t("errors.deal_gone")})
            return
        await ack()
        run = state.run

        async def work() -> None:
            await rt.db(_save_run, rt, run.id, guess=guess)
            stage = str(run.data.get("stage") or "opener")
            click = Click(
                team_id=team_id,
                user_id=user_id,
                value=str(deal_id),
                channel=run.data.get("script_channel") or run.data.get("dm_channel"),
                message_ts=run.data.get("script_ts"),
                trigger_id=None,
            )
            await _script(rt, client, click, t, stage=stage, new=not run.data.get("script_ts"))

        rt.spawn(work(), name=f"guess:{deal_id}")

    # The rep's and the manager's log share one modal; the button says whose it is.
    @app.action(re.compile(r"^(loss|manager)_log_open$"))
    async def on_log_open(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        role = "manager" if body["actions"][0]["action_id"].startswith("manager") else "rep"
        await _open_log(rt, client, respond, read_click(body, rt), role)

    @app.action("log_edit")
    async def on_log_edit(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        click = read_click(body, rt)
        role, _rev = manager_call.parse_log_step(click.step)
        await _open_log(rt, client, respond, click, role)

    @app.view("loss_log")
    async def on_log_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        user_id = str(body["user"]["id"])
        team_id = team_of(body, rt)
        t = await texts_for(rt, team_id, user_id)
        meta = read_metadata(view)
        role = "manager" if meta.get("as") == "manager" else "rep"
        deal_id = parse_deal_id(str(meta.get("deal")))
        answers = msg.read_text_values(view["state"]["values"], msg.LOSS_FIELDS)
        errors = msg.missing_required(answers, msg.LOSS_REQUIRED, t("errors.required_field"))
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        stored = await rt.db(_store_draft, rt, deal_id, role, answers) if deal_id else None
        if stored is None or stored[0].id is None:
            # Keep the modal open with what they typed; closing it would lose it all.
            await ack(response_action="errors", errors={"reason": t("errors.deal_gone")})
            return
        await ack()
        deal, rev = stored
        assert deal.id is not None
        summary = msg.loop_summary(
            t, deal_id=deal.id, account=deal.account, role=role, answers=answers, rev=rev
        )
        rt.spawn(post_dm(client, user_id, summary), name=f"loop-summary:{deal_id}")

    @app.action("log_confirm")
    async def on_confirm(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        click = read_click(body, rt)

        async def work() -> None:
            t = await texts_for(rt, click.team_id, click.user_id)
            role, rev = manager_call.parse_log_step(click.step)
            if role == "manager":
                await manager_call.confirm_manager_log(rt, client, respond, click, t, rev=rev)
                return
            if await load_deal(rt, click.deal_id) is None:
                await deal_gone(respond, t)
                return
            assert click.deal_id is not None
            confirmed = await rt.db(_confirm_rep, rt, click.deal_id, rev)
            if confirmed is None:
                return  # already saved: a double click changes nothing
            if isinstance(confirmed, str):  # STALE: an older summary than the draft
                await tell(respond, t("log.newer_version"))
                return
            deal, answers, guess = confirmed
            built = msg.rep_logged(
                t, deal_id=click.deal_id, account=deal.account, answers=answers, guess=guess
            )
            await update_in_place(client, click.channel, click.message_ts, built, click.user_id)

        rt.spawn(work(), name=f"log-confirm:{click.value}")

    @app.action("loss_tell_manager")
    async def on_tell_manager(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        click = read_click(body, rt)

        async def work() -> None:
            t = await texts_for(rt, click.team_id, click.user_id)
            state = await load_deal(rt, click.deal_id)
            if state is None or state.deal.id is None:
                await deal_gone(respond, t)
                return
            manager = await rt.db(manager_of, rt, click.team_id, click.user_id)
            if not manager:
                await tell(respond, await manager_call.no_manager_text(rt, t, click.team_id))
                return
            nudge_id = await rt.db(
                schedule_now,
                rt,
                team_id=click.team_id,
                user_id=manager,
                kind="rep_needs_word",
                key=f"deal:{state.deal.id}:tough-one",
                payload={"deal_id": state.deal.id, "rep": click.user_id},
            )
            if nudge_id is not None:
                await deliver(rt, nudge_id)
            await tell(respond, t("mode.manager_told", manager=f"<@{manager}>"))

        rt.spawn(work(), name=f"tell-manager:{click.value}")


# --- nudges ---------------------------------------------------------------------------


def _open_debrief(rt: Runtime, nudge: Nudge) -> tuple[Deal, RitualRun] | None:
    """Blocking: the deal and its debrief, unless the debrief was logged meanwhile."""
    deal_id = int(nudge.payload.get("deal_id") or 0)
    with unit_of_work(rt.engine) as session:
        deal = session.get(Deal, deal_id)
        run = debrief_run(session=session, deal_id=deal_id)
        if deal is None or run is None or run.state == LOGGED:
            return None
        return deal, run


async def render_reminder(rt: Runtime, nudge: Nudge, person: Person) -> Message | None:
    found = await rt.db(_open_debrief, rt, nudge)
    if found is None:
        return None
    deal, _run = found
    assert deal.id is not None
    built = msg.debrief_reminder(
        Texts(rt.catalog, person.locale),
        deal_id=deal.id,
        account=deal.account,
        days=rt.settings.debrief_reminder_days,
        won=deal.outcome == "won",
    )
    return Message(built.text, built.blocks)


async def after_reminder(rt: Runtime, nudge: Nudge, channel: str, ts: str) -> None:
    """The rep had their one reminder; if the debrief is still open after as long again,
    their manager hears about it, once."""
    manager = await rt.db(manager_of, rt, nudge.team_id, nudge.user_slack_id)
    if not manager:
        return
    now = rt.clock.now()
    deal_id = int(nudge.payload.get("deal_id") or 0)

    def write() -> None:
        with unit_of_work(rt.engine) as session:
            nudges.schedule(
                session=session,
                team_id=nudge.team_id,
                user_slack_id=manager,
                kind="debrief_manager_note",
                due_at=now + timedelta(days=rt.settings.debrief_reminder_days),
                idempotency_key=f"deal:{deal_id}:debrief-manager",
                payload={"deal_id": deal_id, "rep": nudge.user_slack_id},
                ritual_run_id=nudge.ritual_run_id,
                now=now,
            )

    await rt.db(write)


async def render_manager_note(rt: Runtime, nudge: Nudge, person: Person) -> Message | None:
    found = await rt.db(_open_debrief, rt, nudge)
    if found is None:
        return None
    deal, run = found
    days = max((rt.clock.now() - (run.created_at or rt.clock.now())).days, 1)
    built = msg.debrief_manager_note(
        Texts(rt.catalog, person.locale),
        rep=str(nudge.payload.get("rep") or run.user_slack_id),
        account=deal.account,
        days=days,
    )
    return Message(built.text, built.blocks)


async def render_needs_word(rt: Runtime, nudge: Nudge, person: Person) -> Message | None:
    deal_id = int(nudge.payload.get("deal_id") or 0)

    def read() -> Deal | None:
        with unit_of_work(rt.engine) as session:
            return session.get(Deal, deal_id)

    deal = await rt.db(read)
    if deal is None:
        return None
    t = Texts(rt.catalog, person.locale)
    built = msg.plain_reply(
        t("mode.manager_note", rep=f"<@{nudge.payload.get('rep')}>", account=deal.account)
    )
    return Message(built.text, built.blocks)


NUDGE_KINDS = (
    NudgeKind("debrief_reminder", render_reminder, after_reminder),
    NudgeKind("debrief_manager_note", render_manager_note),
    NudgeKind("rep_needs_word", render_needs_word),
)
