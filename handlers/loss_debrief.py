"""Loss and no-decision debriefs: heard / helped / hugged, the three-stage call script,
the rep's own guess first, and the client's answer logged with a loop-back
("Did I get that right?") before it is saved. Also the debrief reminders.

The person asked to make the call has a form of their own (handlers/manager_call.py);
Edit on their loop-back opens it from here (`<deal>:manager:<rev>`), and Confirm on it
is handled by handlers/debrief_replies.py, which both debriefs share. Once a call is
handed over, the rep's reminders about this debrief are no longer sent."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.deals.commands import closest_account
from bot.messages import Built, Texts
from bot.messages import debrief as msg
from bot.messages import reasons as reasons_msg
from bot.messages.blocks import read_metadata
from bot.nudges.delivery import Message, deliver
from bot.nudges.registry import NudgeKind
from bot.runtime import Runtime
from bot.slack import ids
from bot.slack.acks import open_view_after_ack
from bot.slack.clicks import show_choice
from bot.workspace_settings import effective
from handlers.common import DealClick, deal_button, rt_of
from handlers.deal_intake import deal_is_open, refresh_deal_dm, show_logged
from handlers.debrief_replies import (
    Click,
    audience,
    confirm_manager_log,
    deal_gone,
    load_deal,
    manager_for,
    no_manager_text,
    open_call_log,
    parse_deal_id,
    post_dm,
    team_of,
    tell,
    texts_for,
    update_in_place,
)
from handlers.loop_command import CommandCall, LoopCommand
from storage import debriefs
from storage.kinds import Kind
from storage.models import Deal, Nudge, Person, RitualRun

log = logging.getLogger(__name__)

MODES = ids.LOSS_MODES


async def _save_run(rt: Runtime, run_id: int | None, **changes: Any) -> None:
    """Merge `changes` into a run's data."""
    await rt.tx(debriefs.save_run, run_id=run_id, now=rt.clock.now(), **changes)


async def _script(
    rt: Runtime, client: AsyncWebClient, click: Click, t: Texts, *, stage: str, new: bool
) -> None:
    """Post (or move on in place) the call script at `stage`, and remember where it is."""
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
        guess=state.data.guess,
        guess_category=state.data.guess_category,
    )
    if new:
        channel, ts = await post_dm(rt, click.team_id, click.user_id, built, channel=click.channel)
    else:
        channel, ts = await update_in_place(rt, click, built)
    await _save_run(rt, run.id, stage=stage, script_channel=channel, script_ts=ts)


# --- /loop debrief ----------------------------------------------------------------------


async def _not_found(call: CommandCall, account: str) -> str:
    """A typo ("Globexx") gets the rep's own closest account and the command to type;
    only a name like none of theirs gets the advice to log a new deal."""
    names = await call.rt.tx(
        debriefs.rep_accounts, write=False, team_id=call.team_id, user_id=call.user_id
    )
    guess = closest_account(account, names)
    if guess is not None:
        return call.t("suggest.account", account=account[:100], guess=guess)
    return call.t("debrief.not_found", account=account[:100])


async def debrief_command(call: CommandCall) -> None:
    """`/loop debrief <account>`: back to a debrief whose DM scrolled away — the win
    log for a win, the guess and the call script for a loss."""
    t, rt = call.t, call.rt
    account = call.args.strip().strip('*_`"')
    if not account:
        await call.reply(t("debrief.usage"))
        return
    found = await rt.tx(
        debriefs.latest_debrief,
        write=False,
        team_id=call.team_id,
        user_id=call.user_id,
        account=account,
    )
    if found is None:
        await call.reply(await _not_found(call, account))
        return
    deal, run = found
    assert deal.id is not None
    saved = await _saved_for_command(rt, t, deal, run)
    if saved is not None:
        # Logged already (by the rep, or by the manager who made the call): the saved
        # answers and Edit (the form, pre-filled), not a new script.
        await call.ack(response_type="ephemeral", **saved.as_kwargs())
        return
    await call.ack()
    if deal.outcome == "won":
        view = msg.win_log_modal(t, deal_id=deal.id, initial=debriefs.debrief_data(run).win)
        open_view_after_ack(rt, call.client, call.trigger_id, view, name=ids.WIN_LOG_VIEW)
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


async def _saved_for_command(rt: Runtime, t: Texts, deal: Deal, run: RitualRun) -> Built | None:
    """What `/loop debrief` shows for a debrief already logged; None while it is open."""
    assert deal.id is not None
    if deal.outcome == "won":
        win = debriefs.debrief_data(run).win
        if run.state != debriefs.LOGGED or not win:
            return None
        return msg.win_saved(t, deal_id=deal.id, account=deal.account, answers=win)
    state = await rt.tx(debriefs.deal_state, write=False, deal_id=deal.id)
    return saved_debrief(t, state) if state is not None else None


# --- heard / helped / hugged, and the script ----------------------------------------------


def saved_debrief(t: Texts, state: debriefs.DealState) -> Built | None:
    """A logged debrief shown again: what was saved (by the rep, or what the client told
    the manager who made the call), the guess beside it, and Edit. None while open."""
    run, data, deal = state.run, state.data, state.deal
    if run is None or run.state != debriefs.LOGGED or not data.client or deal.id is None:
        return None
    intro = t("state.already_logged", account=deal.account)
    if data.logged_by == "manager" and state.call is not None:
        manager = f"<@{state.call.user_slack_id}>"
        intro = t("state.logged_by_manager", manager=manager, account=deal.account)
    return msg.rep_logged(
        t,
        deal_id=deal.id,
        account=deal.account,
        answers=data.client,
        guess=data.guess,
        intro=intro,
        guess_category=data.guess_category,
    )


async def _show_saved(c: DealClick, built: Built) -> None:
    try:
        await c.respond(response_type="ephemeral", replace_original=False, **built.as_kwargs())
    except Exception:  # noqa: BLE001 - an expired response_url: the DM shows it anyway
        log.info("could not show the saved debrief", exc_info=True)


@deal_button("loss-mode")
async def on_mode(c: DealClick) -> None:
    """heard / helped / hugged. The choice is recorded first, then the DM shows it in
    place of the buttons (the other two stay to change it until the debrief is logged).
    The same choice again, or any choice on a logged debrief, changes nothing and says so."""
    mode = str(c.body["actions"][0]["action_id"]).removeprefix(ids.LOSS_MODE_PREFIX)
    rt, click, run = c.rt, c.click, c.state.run
    if not deal_is_open(c.state.deal):
        await deal_gone(c.respond, c.t)
        return
    if c.state.deal.outcome == "won":
        # An old copy of the DM from before the deal was corrected to a win.
        await refresh_deal_dm(
            rt, c.deal_id, respond=c.respond, channel=click.channel, ts=click.message_ts
        )
        word = messages.outcome_word(c.t, "won")
        await tell(c.respond, c.t("state.deal_changed", account=c.state.deal.account, outcome=word))
        return
    saved = saved_debrief(c.t, c.state)
    if saved is not None:
        await refresh_deal_dm(
            rt, c.deal_id, respond=c.respond, channel=click.channel, ts=click.message_ts
        )
        await _show_saved(c, saved)
        return
    if run is not None:
        claimed = await rt.tx(
            debriefs.claim_choice, run_id=run.id, field="mode", value=mode, now=rt.clock.now()
        )
        shown = await refresh_deal_dm(
            rt, c.deal_id, respond=c.respond, channel=click.channel, ts=click.message_ts
        )
        label = c.t(f"loss.button_{mode}")
        if not claimed:
            # A double click, or a stale copy of the DM: one effect, and it says so.
            await tell(c.respond, c.t("state.already_answered", choice=label))
            return
        if not shown:
            await tell(c.respond, c.t("state.kept_not_shown", choice=label))
    reply = msg.mode_reply(c.t, mode=mode, deal_id=c.deal_id, account=c.state.deal.account)
    await post_dm(rt, click.team_id, click.user_id, reply, channel=click.channel)
    if mode == "helped" and not c.state.data.script_ts:
        # The script is posted once per debrief; changing one's mind back doesn't repeat it.
        await _script(rt, c.client, click, c.t, stage="opener", new=True)


@deal_button("debrief-start")
async def on_start(c: DealClick) -> None:
    """ "I'm ready": the call script, once. The button makes way for the choice (telling
    the manager stays); a second click, or an old copy, points at the script instead."""
    await show_choice(c.t, c.client, c.respond, c.body, whole_row=False)
    if c.state.data.script_ts:
        await tell(c.respond, c.t("state.script_above", account=c.state.deal.account))
        return
    await _script(c.rt, c.client, c.click, c.t, stage="opener", new=True)


@deal_button("debrief-next")
async def on_next(c: DealClick) -> None:
    stage = c.click.step if c.click.step in msg.STAGES else "opener"
    await _script(c.rt, c.client, c.click, c.t, stage=stage, new=False)


@deal_button("loss-tell-manager")
async def on_tell_manager(c: DealClick) -> None:
    """Hugged: the rep may want their manager to know it was a tough one."""
    rt, click = c.rt, c.click
    manager = await manager_for(rt, click.team_id, click.user_id)
    if not manager:
        await tell(c.respond, await no_manager_text(rt, c.t, click.team_id))
        return
    nudge_id = await rt.tx(
        debriefs.schedule_now,
        team_id=click.team_id,
        user_id=manager,
        kind=Kind.REP_NEEDS_WORD,
        key=f"deal:{c.deal_id}:tough-one",
        payload={"deal_id": c.deal_id, "rep": click.user_id},
        now=rt.clock.now(),
    )
    if nudge_id is not None:
        await deliver(rt, nudge_id)
    # The button makes way for the choice ("I'm ready" stays); the manager hears it once.
    await show_choice(c.t, c.client, c.respond, c.body, whole_row=False)
    await tell(c.respond, c.t("mode.manager_told", manager=f"<@{manager}>"))


# --- the guess ------------------------------------------------------------------------------


@deal_button("guess-open")
async def on_guess_open(c: DealClick) -> None:
    initial = c.state.data.guess
    view = msg.guess_modal(
        c.t,
        deal_id=c.deal_id,
        initial=initial,
        audience=audience(c.t, c.state, "rep"),
        outcome=c.state.deal.outcome,
        category=c.state.data.guess_category,
    )
    open_view_after_ack(c.rt, c.client, c.click.trigger_id, view, name=ids.GUESS_VIEW)


async def on_guess_saved(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    rt = rt_of(context)
    view = body["view"]
    user_id = str(body["user"]["id"])
    team_id = team_of(body, rt)
    t = await texts_for(rt, team_id, user_id)
    values = view["state"]["values"]
    guess = msg.read_text_values(values, [ids.GUESS_FIELD])[ids.GUESS_FIELD]
    picked = reasons_msg.read_category(values, ids.GUESS_CATEGORY_FIELD)
    deal_id = parse_deal_id(str(read_metadata(view).get(ids.META_DEAL)))
    state = await load_deal(rt, deal_id)
    if not guess:
        await ack(response_action="errors", errors={ids.GUESS_FIELD: t("errors.required_field")})
        return
    if picked.forged:
        # None of the options: no form of ours sent it. Refused, nothing stored.
        errors = {ids.GUESS_CATEGORY_FIELD: t("reasons.error_category")}
        await ack(response_action="errors", errors=errors)
        return
    if state is None or state.run is None:
        await ack(response_action="errors", errors={ids.GUESS_FIELD: t("errors.deal_gone")})
        return
    await ack()
    run, data = state.run, state.data
    click = Click(
        team_id=team_id,
        user_id=user_id,
        value=str(deal_id),
        channel=data.script_channel or data.dm_channel,
        message_ts=data.script_ts,
        trigger_id=None,
    )

    async def work() -> None:
        await rt.tx(
            debriefs.save_guess,
            run_id=run.id,
            guess=guess,
            category=picked.category or None,
            now=rt.clock.now(),
        )
        # The script the guess was written from shows it (in place when it was posted).
        stage = data.stage or "opener"
        await _script(rt, client, click, t, stage=stage, new=not data.script_ts)

    rt.spawn(work(), name=f"guess:{deal_id}")


# --- the client's answer: the log, its loop-back, Confirm ------------------------------------


async def _open_log(c: DealClick, role: str) -> None:
    state = c.state
    if role == "manager":
        # The caller's own questions; bot/access.py let only the person asked this far.
        open_call_log(c.rt, c.client, c.click, c.t, state)
        return
    data = state.data
    initial = data.draft or data.client
    view = msg.loss_log_modal(
        c.t,
        deal_id=c.deal_id,
        role=role,
        initial=initial,
        audience=audience(c.t, state, role),
        outcome=state.deal.outcome,
    )
    open_view_after_ack(c.rt, c.client, c.click.trigger_id, view, name=ids.LOSS_LOG_VIEW)


@deal_button("loss-log-open")
async def on_log_open(c: DealClick) -> None:
    await _open_log(c, "rep")


@deal_button("log-edit")
async def on_log_edit(c: DealClick) -> None:
    role, _rev = msg.parse_log_step(c.click.step)
    await _open_log(c, role)


async def on_log_submitted(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    rt = rt_of(context)
    view = body["view"]
    user_id = str(body["user"]["id"])
    t = await texts_for(rt, team_of(body, rt), user_id)
    meta = read_metadata(view)
    role = "manager" if meta.get(ids.META_ROLE) == "manager" else "rep"
    deal_id = parse_deal_id(str(meta.get(ids.META_DEAL)))
    answers = msg.read_text_values(view["state"]["values"], msg.LOSS_FIELDS)
    errors = msg.missing_required(answers, msg.LOSS_REQUIRED, t("errors.required_field"))
    kind, kind_errors = reasons_msg.read_reason(t, view["state"]["values"])
    answers.update(kind)
    errors.update(kind_errors)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    stored = (
        await rt.tx(
            debriefs.store_draft, deal_id=deal_id, role=role, answers=answers, now=rt.clock.now()
        )
        if deal_id
        else None
    )
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
    rt.spawn(post_dm(rt, team_of(body, rt), user_id, summary), name=f"loop-summary:{deal_id}")


@deal_button("log-confirm")
async def on_confirm(c: DealClick) -> None:
    role, rev = msg.parse_log_step(c.click.step)
    if role == "manager":
        await confirm_manager_log(c.rt, c.client, c.respond, c.click, c.t, rev=rev)
        return
    confirmed = await c.rt.tx(
        debriefs.confirm_rep_log, deal_id=c.deal_id, rev=rev, now=c.rt.clock.now()
    )
    if confirmed is None:
        # Already saved (a double click, or an old summary): nothing changes; show it.
        state = await load_deal(c.rt, c.deal_id)
        saved = saved_debrief(c.t, state) if state is not None else None
        if saved is not None:
            await _show_saved(c, saved)
        return
    if confirmed == debriefs.STALE:  # an older summary than the draft
        # Its buttons go, so the older summary can't be mistaken for the one to confirm.
        await show_choice(c.t, c.client, c.respond, c.body, says=c.t("state.outdated_summary"))
        await tell(c.respond, c.t("log.newer_version"))
        return
    assert not isinstance(confirmed, str)
    deal, answers, data = confirmed
    built = msg.rep_logged(
        c.t,
        deal_id=c.deal_id,
        account=deal.account,
        answers=answers,
        guess=data.guess,
        guess_category=data.guess_category,
    )
    await update_in_place(c.rt, c.click, built)
    # Logged: the deal DM's heard / helped / hugged can't change any more.
    await show_logged(c.rt, c.deal_id)


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("debrief", debrief_command, help_key="help.line_debrief")
    app.action(re.compile(ids.LOSS_MODE_PATTERN))(on_mode)
    app.action(ids.DEBRIEF_START)(on_start)
    app.action(ids.DEBRIEF_NEXT)(on_next)
    app.action(ids.GUESS_OPEN)(on_guess_open)
    app.view(ids.GUESS_VIEW)(on_guess_saved)
    app.action(ids.LOSS_LOG_OPEN)(on_log_open)
    app.action(ids.LOG_EDIT)(on_log_edit)
    app.view(ids.LOSS_LOG_VIEW)(on_log_submitted)
    app.action(ids.LOG_CONFIRM)(on_confirm)
    app.action(ids.LOSS_TELL_MANAGER)(on_tell_manager)


# --- nudges ---------------------------------------------------------------------------


def _deal_of(nudge: Nudge) -> int:
    return int(nudge.payload.get("deal_id") or 0)


async def _still_the_reps(rt: Runtime, deal_id: int) -> bool:
    """Is the debrief still open and still the rep's to run? Once they asked someone to
    make the call, the caller owns it: no "isn't logged yet" to the rep, and no "offer
    to make the call yourself" to anyone."""
    state = await load_deal(rt, deal_id)
    if state is None or state.run is None or state.run.state == debriefs.LOGGED:
        return False
    return not debriefs.live_call(state.call)


async def render_reminder(rt: Runtime, nudge: Nudge, person: Person) -> Message | None:
    if not await _still_the_reps(rt, _deal_of(nudge)):
        return None
    found = await rt.tx(debriefs.open_debrief, write=False, deal_id=_deal_of(nudge))
    if found is None:
        return None
    deal, _run = found
    assert deal.id is not None
    built = msg.debrief_reminder(
        Texts(rt.catalog, person.locale),
        deal_id=deal.id,
        account=deal.account,
        days=(await effective(rt, deal.team_id)).debrief_reminder_days,
        won=deal.outcome == "won",
    )
    return Message(built.text, built.blocks)


async def after_reminder(rt: Runtime, nudge: Nudge, channel: str, ts: str) -> None:
    """The rep had their one reminder; if the debrief is still open after as long again,
    their manager hears about it, once."""
    manager = await manager_for(rt, nudge.team_id, nudge.user_slack_id)
    if not manager:
        return
    now = rt.clock.now()
    deal_id = _deal_of(nudge)
    await rt.tx(
        debriefs.schedule_later,
        team_id=nudge.team_id,
        user_id=manager,
        kind=Kind.DEBRIEF_MANAGER_NOTE,
        key=f"deal:{deal_id}:debrief-manager",
        payload={"deal_id": deal_id, "rep": nudge.user_slack_id},
        due_at=now + timedelta(days=(await effective(rt, nudge.team_id)).debrief_reminder_days),
        now=now,
        run_id=nudge.ritual_run_id,
    )


async def render_manager_note(rt: Runtime, nudge: Nudge, person: Person) -> Message | None:
    if not await _still_the_reps(rt, _deal_of(nudge)):
        return None
    found = await rt.tx(debriefs.open_debrief, write=False, deal_id=_deal_of(nudge))
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
    deal = await rt.tx(debriefs.get_deal, write=False, deal_id=_deal_of(nudge))
    if deal is None:
        return None
    t = Texts(rt.catalog, person.locale)
    built = msg.plain_reply(
        t("mode.manager_note", rep=f"<@{nudge.payload.get('rep')}>", account=deal.account)
    )
    return Message(built.text, built.blocks)


NUDGE_KINDS = (
    NudgeKind(Kind.DEBRIEF_REMINDER, render_reminder, after_reminder),
    NudgeKind(Kind.DEBRIEF_MANAGER_NOTE, render_manager_note),
    NudgeKind(Kind.REP_NEEDS_WORD, render_needs_word),
)
