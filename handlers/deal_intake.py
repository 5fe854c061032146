"""One way in for every deal, whatever announced it, and one way to correct it.

`take_in()` is the intake: a channel post, `/loop deal`, a click on "Did a deal close?"
(and later shortcuts and webhooks) all call it. It decides, in one transaction, whether
the announcement is new, a repeat of a deal already logged (same account as compared by
`account_key`, outcome and rep within 24 h, or the same CRM record), or — for a command —
another outcome for a deal the rep already has, which is asked about instead of logged.

`correct()` changes a logged deal: its outcome, account, amount or rep, or withdraws it.
Follow-ups move with it (a withdrawn deal's pending nudges are cancelled and it leaves
every streak; a new outcome re-evaluates the streak; a new rep gets the DM and the
reminder), and every deal DM already sent is updated in place with `chat.update`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy import text, update
from sqlmodel import Session, col, select

from bot import messages
from bot.messages import Texts
from bot.messages import intake as intake_msg
from bot.messages.blocks import context
from bot.nudges.delivery import deliver
from bot.runtime import Runtime
from bot.slack.errors import api_error
from bot.slack.people import is_admin, load_person
from storage import nudges
from storage.db import unit_of_work
from storage.deals import (
    OPEN,
    WITHDRAWN,
    NewDeal,
    account_key,
    add_deal,
    add_source,
    mark_event_seen,
    message_seen,
    other_outcome_deal,
    same_deal,
)
from storage.debriefs import (
    LOGGED,
    debrief_run,
    loss_streak,
    schedule_deal_followups,
    teeup_agreed,
)
from storage.models import Deal, Nudge, Person, RitualRun

log = logging.getLogger(__name__)

RITUAL_FOR = {"won": "win_debrief", "lost": "loss_debrief", "no_decision": "loss_debrief"}
# The same deal announced again this soon (a CRM post, then the rep's own line; a line
# posted twice) is one deal.
REPEAT_WINDOW = timedelta(hours=24)
# An edit this soon after the post is a correction of it; later, the rep has the DM and
# may be half-way through the debrief.
EDIT_WINDOW = timedelta(minutes=15)
# Anything the rep answered in the DM: from then on an edit of the post changes nothing.
ACTED_KEYS = frozenset(
    {"mode", "guess", "stage", "draft", "client", "win", "logged_at", "script_ts", "manager"}
)
KEPT_IN_DATA = ("dm_channel", "dm_ts")

NEW = "new"
REPEAT = "repeat"
SEEN = "seen"
OTHER_OUTCOME = "other_outcome"


@dataclass(frozen=True)
class Intake:
    """What became of one announcement."""

    status: str  # new | repeat | seen | other_outcome
    deal_id: int | None = None
    nudge_id: int | None = None
    account: str | None = None
    outcome: str | None = None  # for other_outcome: the outcome the deal is logged with
    rep: str | None = None
    dm_state: str | None = None


def _record(rt: Runtime, new: NewDeal, event_id: str | None, ask_other_outcome: bool) -> Intake:
    """Blocking: the whole decision and the new rows in one transaction."""
    now = rt.clock.now()
    # Immediate: on SQLite a read-then-write transaction cannot upgrade its lock once
    # another writer committed; taking the write lock first makes it wait instead.
    with unit_of_work(rt.engine, immediate=True) as session:
        if event_id and not mark_event_seen(
            session=session, team_id=new.team_id, event_id=event_id, now=now
        ):
            return Intake(SEEN)
        if (
            new.source_channel
            and new.source_ts
            and message_seen(
                session=session,
                team_id=new.team_id,
                channel=new.source_channel,
                ts=new.source_ts,
            )
        ):
            return Intake(SEEN)
        _serialise_account(session, new)
        first = same_deal(session=session, new=new, since=now - REPEAT_WINDOW)
        if first is not None and first.status == OPEN:
            add_source(session=session, deal=first, new=new, duplicate=True, now=now)
            return Intake(
                REPEAT,
                first.id,
                account=first.account,
                outcome=first.outcome,
                rep=first.rep_slack_id,
            )
        if first is not None:
            return Intake(SEEN)  # the same CRM record, withdrawn: still not a deal
        if ask_other_outcome and new.rep_slack_id:
            other = other_outcome_deal(
                session=session,
                team_id=new.team_id,
                account=new.account,
                outcome=new.outcome,
                rep_slack_id=new.rep_slack_id,
            )
            if other is not None and _still_open(session, other, now):
                return Intake(
                    OTHER_OUTCOME,
                    other.id,
                    account=other.account,
                    outcome=other.outcome,
                    rep=other.rep_slack_id,
                )
        deal = add_deal(session=session, new=new, now=now)
        if deal is None or deal.id is None:
            return Intake(SEEN)
        add_source(session=session, deal=deal, new=new, duplicate=False, now=now)
        if not new.rep_slack_id:
            return Intake(NEW, deal.id, account=deal.account, outcome=deal.outcome)
        run = RitualRun(
            team_id=new.team_id,
            ritual=RITUAL_FOR[new.outcome],
            user_slack_id=new.rep_slack_id,
            deal_id=deal.id,
            account=new.account,
            state="dm_pending",
            created_at=now,
            updated_at=now,
        )
        session.add(run)
        session.flush()
        nudge = nudges.schedule(
            session=session,
            team_id=new.team_id,
            user_slack_id=new.rep_slack_id,
            kind="deal_dm",
            due_at=now,
            idempotency_key=f"deal:{deal.id}:dm",
            payload={"deal_id": deal.id},
            ritual_run_id=run.id,
            now=now,
        )
        # The reminder and a loss-streak offer are rows in this same transaction, so a
        # crash can never leave a deal whose follow-ups were forgotten.
        schedule_deal_followups(
            session=session,
            deal=deal,
            run=run,
            now=now,
            reminder_days=rt.settings.debrief_reminder_days,
            loss_streak_at=rt.settings.loss_streak,
        )
        return Intake(
            NEW,
            deal.id,
            nudge.id,
            account=deal.account,
            outcome=deal.outcome,
            rep=deal.rep_slack_id,
        )


def _serialise_account(session: Session, new: NewDeal) -> None:
    """Two announcements of one deal can arrive at the same moment (the CRM's post and the
    rep's). SQLite already runs this transaction alone (immediate); on PostgreSQL a lock
    per team, account and rep makes the second wait and then see the first."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = f"{new.team_id}:{account_key(new.account)}:{new.rep_slack_id}"
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def _still_open(session: Session, deal: Deal, now: datetime) -> bool:
    """Logged lately, or its debrief not done yet: a different outcome for it now is a
    correction rather than a new deal."""
    if deal.created_at and now - deal.created_at <= REPEAT_WINDOW:
        return True
    run = debrief_run(session=session, deal_id=int(deal.id or 0))
    return run is not None and run.state != LOGGED


async def take_in(
    rt: Runtime, new: NewDeal, *, event_id: str | None = None, ask_other_outcome: bool = False
) -> Intake:
    """Log one announcement of a closed deal and DM its rep, unless it repeats one.

    `ask_other_outcome`: a person typed it, so a different outcome for a deal they already
    have comes back as OTHER_OUTCOME for them to confirm, instead of a second deal."""
    got = await rt.db(_record, rt, new, event_id, ask_other_outcome)
    if got.status == NEW and got.nudge_id is not None:
        return replace(got, dm_state=await deliver(rt, got.nudge_id))
    if got.status == REPEAT:
        log.info("deal %s announced again (%s); linked, no second DM", got.deal_id, new.source)
    return got


# --- the deal DM ------------------------------------------------------------------------


async def deal_dm_for(rt: Runtime, deal: Deal, person: Person) -> messages.Built:
    """The deal DM as it should look now: the script for the outcome, and "Not right?"."""
    assert deal.id is not None

    def agreed() -> bool:
        with unit_of_work(rt.engine) as session:
            return teeup_agreed(session=session, team_id=deal.team_id, account=deal.account)

    t = Texts(rt.catalog, person.locale)
    # The tee-up note is worded for a no ("if it didn't go our way"), so wins skip it.
    note = deal.outcome != "won" and await rt.db(agreed)
    return messages.deal_dm(
        t,
        deal_id=deal.id,
        account=deal.account,
        outcome=deal.outcome,
        amount=deal.amount,
        currency=deal.currency,
        extra=[context(t("teeup.debrief_note", account=deal.account))] if note else (),
        footer=[intake_msg.fix_menu(t, deal_id=deal.id)],
    )


# --- corrections ------------------------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    outcome: str | None = None
    account: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    set_amount: bool = False
    rep: str | None = None
    withdraw: str | None = None  # why: not_a_deal | edited | deleted
    # "edit": only within EDIT_WINDOW and before the rep acted (an edit of the post);
    # "delete": the same, except that a DM not sent yet is always withdrawn.
    gate: str | None = None


@dataclass(frozen=True)
class DmChange:
    user: str
    channel: str
    ts: str
    how: str  # current | withdrawn | handed


@dataclass
class Corrected:
    deal: Deal
    changed: bool
    dms: list[DmChange] = field(default_factory=list)
    deliver_ids: list[int] = field(default_factory=list)
    old_rep: str | None = None


def _sent_dms(session: Session, deal_id: int) -> list[Nudge]:
    return list(
        session.exec(
            select(Nudge)
            .where(
                Nudge.kind == "deal_dm",
                Nudge.state == nudges.SENT,
                col(Nudge.idempotency_key).startswith(f"deal:{deal_id}:dm"),
            )
            .order_by(col(Nudge.id))
        ).all()
    )


def _untouched(deal: Deal, run: RitualRun | None, now: datetime) -> bool:
    if deal.created_at is None or now - deal.created_at > EDIT_WINDOW:
        return False
    if run is None:
        return True
    return run.state in ("dm_pending", "dm_sent") and not (ACTED_KEYS & set(run.data))


def _recheck_streak_offers(session: Session, deal: Deal, rep: str | None, at: int) -> None:
    """A pending loss-streak offer whose streak a correction broke is not sent."""
    if not rep:
        return
    session.flush()
    if loss_streak(session=session, team_id=deal.team_id, rep_slack_id=rep) >= at:
        return
    session.execute(
        update(Nudge)
        .where(
            col(Nudge.team_id) == deal.team_id,
            col(Nudge.user_slack_id) == rep,
            col(Nudge.kind) == "loss_streak_offer",
            col(Nudge.state) == nudges.PENDING,
        )
        .values(state=nudges.CANCELLED, last_error="the streak was corrected away")
    )


def _correct(rt: Runtime, deal_id: int, fix: Correction) -> Corrected | None:
    """Blocking: apply a correction; None when the deal is gone, withdrawn, or the gate
    says it is too late."""
    now = rt.clock.now()
    streak_at = rt.settings.loss_streak
    with unit_of_work(rt.engine, immediate=True) as session:
        deal = session.get(Deal, deal_id)
        if deal is None or deal.id is None or deal.status != OPEN:
            return None
        run = debrief_run(session=session, deal_id=deal.id)
        sent = _sent_dms(session, deal.id)
        if fix.gate and not _untouched(deal, run, now):
            if not (fix.gate == "delete" and not sent):
                return None
        prefix = f"deal:{deal.id}:"
        if fix.withdraw:
            deal.status = WITHDRAWN
            deal.withdrawn_reason = fix.withdraw
            deal.revision += 1
            deal.updated_at = now
            session.add(deal)
            nudges.cancel_pending(session=session, idempotency_key_prefix=prefix, now=now)
            if run is not None:
                run.state = "withdrawn"
                run.updated_at = now
                session.add(run)
            _recheck_streak_offers(session, deal, deal.rep_slack_id, streak_at)
            dms = [_change(n, "withdrawn") for n in sent if n.user_slack_id == deal.rep_slack_id]
            return Corrected(deal, True, dms)
        changed = False
        if fix.account and fix.account != deal.account:
            deal.account = fix.account[:200]
            deal.account_key = account_key(deal.account)
            if run is not None:
                run.account = deal.account
            changed = True
        if fix.set_amount and (fix.amount, fix.currency) != (deal.amount, deal.currency):
            deal.amount, deal.currency = fix.amount, fix.currency
            changed = True
        new_outcome = fix.outcome if fix.outcome and fix.outcome != deal.outcome else None
        new_rep = fix.rep if fix.rep and fix.rep != deal.rep_slack_id else None
        if not (changed or new_outcome or new_rep):
            return Corrected(deal, False)
        deal.revision += 1
        deal.updated_at = now
        old_rep = deal.rep_slack_id
        if new_outcome:
            deal.outcome = new_outcome
            nudges.cancel_pending(
                session=session, idempotency_key_prefix=f"{prefix}streak-offer", now=now
            )
            if run is not None:
                run.ritual = RITUAL_FOR[new_outcome]
                # The answers were to the other script; the DM starts over.
                run.data = {k: v for k, v in run.data.items() if k in KEPT_IN_DATA}
        session.add(deal)
        if run is not None:
            run.updated_at = now
            session.add(run)
        result = Corrected(deal, True, old_rep=old_rep)
        if new_rep:
            deal.rep_slack_id = new_rep
            nudges.cancel_pending(session=session, idempotency_key_prefix=prefix, now=now)
            if run is None:
                run = RitualRun(
                    team_id=deal.team_id,
                    ritual=RITUAL_FOR[deal.outcome],
                    user_slack_id=new_rep,
                    deal_id=deal.id,
                    account=deal.account,
                    created_at=now,
                )
            run.user_slack_id = new_rep
            run.state = "dm_pending"
            run.data = {}
            run.updated_at = now
            session.add(run)
            session.flush()
            nudge = nudges.schedule(
                session=session,
                team_id=deal.team_id,
                user_slack_id=new_rep,
                kind="deal_dm",
                due_at=now,
                idempotency_key=f"{prefix}dm:r{deal.revision}",
                payload={"deal_id": deal.id},
                ritual_run_id=run.id,
                now=now,
            )
            if nudge.id is not None:
                result.deliver_ids.append(nudge.id)
            schedule_deal_followups(
                session=session,
                deal=deal,
                run=run,
                now=now,
                reminder_days=rt.settings.debrief_reminder_days,
                loss_streak_at=streak_at,
            )
            _recheck_streak_offers(session, deal, old_rep, streak_at)
            result.dms = [_change(n, "handed") for n in sent if n.user_slack_id == old_rep]
            return result
        if new_outcome and run is not None and deal.rep_slack_id:
            schedule_deal_followups(
                session=session,
                deal=deal,
                run=run,
                now=now,
                reminder_days=rt.settings.debrief_reminder_days,
                loss_streak_at=streak_at,
                remind=False,
            )
            _recheck_streak_offers(session, deal, deal.rep_slack_id, streak_at)
        result.dms = [_change(n, "current") for n in sent if n.user_slack_id == deal.rep_slack_id]
        return result


def _change(nudge: Nudge, how: str) -> DmChange:
    return DmChange(nudge.user_slack_id, str(nudge.sent_channel), str(nudge.sent_ts), how)


async def correct(rt: Runtime, deal_id: int, fix: Correction) -> Corrected | None:
    """Apply a correction, then show it: every deal DM already sent is updated in place,
    and a new rep gets theirs. A DM not sent yet needs nothing: it renders the deal as it
    is when it goes out."""
    done = await rt.db(_correct, rt, deal_id, fix)
    if done is None or not done.changed:
        return done
    for change in done.dms:
        await _update_dm(rt, done.deal, change)
    for nudge_id in done.deliver_ids:
        await deliver(rt, nudge_id)
    return done


async def _update_dm(rt: Runtime, deal: Deal, change: DmChange) -> None:
    try:
        person = await load_person(rt, team_id=deal.team_id, user_id=change.user)
        t = Texts(rt.catalog, person.locale)
        if change.how == "withdrawn":
            built = intake_msg.withdrawn_dm(
                t, account=deal.account, reason=deal.withdrawn_reason or ""
            )
        elif change.how == "handed":
            built = intake_msg.handed_dm(t, account=deal.account, rep=str(deal.rep_slack_id))
        else:
            built = await deal_dm_for(rt, deal, person)
        await rt.client.chat_update(channel=change.channel, ts=change.ts, **built.as_kwargs())
    except SlackApiError as e:
        # The deal is corrected either way; an old DM that can't be edited stays as it was.
        log.warning("could not update the DM for deal %s: %s", deal.id, api_error(e))


# --- who may correct a deal ---------------------------------------------------------------


async def may_correct(rt: Runtime, deal: Deal, user_id: str, *, also: tuple[str, ...] = ()) -> bool:
    """The deal's rep, or an admin (or anyone in `also`, e.g. who typed the command)."""
    if user_id and (user_id == deal.rep_slack_id or user_id in also):
        return True
    try:
        person = await load_person(rt, team_id=deal.team_id, user_id=user_id)
    except Exception:  # noqa: BLE001 - an unknown clicker is simply not allowed
        return False
    return await rt.db(is_admin, rt, deal.team_id, person)


def read_deal(rt: Runtime, deal_id: int | None) -> Deal | None:
    """Blocking."""
    if deal_id is None:
        return None
    with unit_of_work(rt.engine) as session:
        return session.get(Deal, deal_id)


def deal_is_open(deal: Deal | None) -> bool:
    return deal is not None and deal.status == OPEN


def payload_deal_id(payload: dict[str, Any]) -> int | None:
    try:
        return int(payload.get("deal_id") or 0) or None
    except (TypeError, ValueError):
        return None
