"""The deal intake's transactions: taking in one announcement, and correcting a deal.

Each is one storage function, so the decision and every row it writes (the deal, its
announcement, the rep's run, the DM nudge, the reminder, a loss-streak offer) commit
together or not at all. The caller's unit of work commits (handlers/deal_intake.py runs
them through `Runtime.tx`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import text, update
from sqlmodel import Session, col, select

from storage import nudges
from storage.db import insert_or_skip
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
    FollowedDeal,
    debrief_run,
    loss_streak,
    schedule_deal_followups,
    write_debrief,
)
from storage.intake_problems import clear_problem, has_problems
from storage.kinds import DebriefState, Kind, Ritual
from storage.models import Deal, Nudge, RitualRun

RITUAL_FOR = {
    "won": Ritual.WIN_DEBRIEF,
    "lost": Ritual.LOSS_DEBRIEF,
    "no_decision": Ritual.LOSS_DEBRIEF,
}
DEAL_DM = Kind.DEAL_DM
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
class FollowUps:
    """The workspace's settings for what follows a deal."""

    reminder_days: int
    loss_streak_at: int


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


def _about(status: str, deal: Deal, nudge_id: int | None = None) -> Intake:
    return Intake(
        status,
        deal.id,
        nudge_id,
        account=deal.account,
        outcome=deal.outcome,
        rep=deal.rep_slack_id,
    )


# --- taking in --------------------------------------------------------------------------


def take_in(
    *,
    session: Session,
    new: NewDeal,
    event_id: str | None,
    ask_other_outcome: bool,
    now: datetime,
    follow_ups: FollowUps,
    solved_problem: str | None = None,
) -> Intake:
    """The whole decision and the new rows in one transaction. Run it in a unit of work
    that takes the write lock first: on SQLite a read-then-write transaction cannot
    upgrade its lock once another writer committed.

    `solved_problem`: the key of an intake problem this record had (a CRM record whose
    owner was unknown before): it came in now, so the problem goes, in this same
    transaction."""
    if solved_problem:
        clear_problem(session=session, team_id=new.team_id, key=solved_problem)
    if _seen_before(session, new, event_id, now):
        return Intake(SEEN)
    _serialise_account(session, new)
    first = same_deal(session=session, new=new, since=now - REPEAT_WINDOW)
    if first is not None and first.status == OPEN:
        add_source(session=session, deal_id=int(first.id or 0), new=new, duplicate=True, now=now)
        return _about(REPEAT, first)
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
            return _about(OTHER_OUTCOME, other)
    return _log_new(session, new, now, follow_ups)


@dataclass(frozen=True)
class Announcement:
    """One machine-sent announcement waiting to be taken in with others (take_in_all)."""

    new: NewDeal
    now: datetime
    solved_problem: str | None = None


def take_in_all(
    *, session: Session, announcements: list[Announcement], follow_ups: FollowUps
) -> list[Intake]:
    """Several announcements in one transaction, each decided as `take_in` decides it,
    in order (so a copy later in the list is a repeat of the first). What a burst of
    CRM deliveries costs is then one BEGIN and one COMMIT, not one each. Any failure
    fails them all, and nothing is written: the caller then takes each in alone."""
    teams = {a.new.team_id for a in announcements if a.solved_problem}
    with_problems = {t for t in teams if has_problems(session=session, team_id=t)}
    return [
        take_in(
            session=session,
            new=a.new,
            event_id=None,
            ask_other_outcome=False,
            now=a.now,
            follow_ups=follow_ups,
            solved_problem=a.solved_problem if a.new.team_id in with_problems else None,
        )
        for a in announcements
    ]


def _seen_before(session: Session, new: NewDeal, event_id: str | None, now: datetime) -> bool:
    """A retried event, or a message already read as a deal or an announcement of one."""
    if event_id and not mark_event_seen(
        session=session, team_id=new.team_id, event_id=event_id, now=now
    ):
        return True
    if not (new.source_channel and new.source_ts):
        return False
    return message_seen(
        session=session, team_id=new.team_id, channel=new.source_channel, ts=new.source_ts
    )


@dataclass(frozen=True)
class _Logged:
    """A deal just inserted, as its follow-ups read it (no ORM object is made for it)."""

    id: int
    team_id: str
    outcome: str
    rep_slack_id: str | None
    revision: int = 0


def _log_new(session: Session, new: NewDeal, now: datetime, follow_ups: FollowUps) -> Intake:
    """The new deal's rows, each one INSERT: the deal, its announcement, the rep's run,
    the DM and the reminder (and a loss-streak offer)."""
    deal_id = add_deal(session=session, new=new, now=now)
    if deal_id is None:
        return Intake(SEEN)
    add_source(session=session, deal_id=deal_id, new=new, duplicate=False, now=now)
    about = Intake(NEW, deal_id, account=new.account, outcome=new.outcome, rep=new.rep_slack_id)
    if not new.rep_slack_id:
        return about
    run_id = insert_or_skip(
        session,
        RitualRun,
        {
            "team_id": new.team_id,
            "ritual": RITUAL_FOR[new.outcome].value,
            "user_slack_id": new.rep_slack_id,
            "deal_id": deal_id,
            "account": new.account,
            "state": DebriefState.DM_PENDING.value,
            "data": {},
            "due_at": None,
            "created_at": now,
            "updated_at": now,
        },
    )
    deal = _Logged(deal_id, new.team_id, new.outcome, new.rep_slack_id)
    nudge_id = _schedule_dm(session, deal, run_id, f"deal:{deal_id}:dm", now)
    # The reminder and a loss-streak offer are rows in this same transaction, so a
    # crash can never leave a deal whose follow-ups were forgotten.
    _follow_up(session, deal, run_id, now, follow_ups)
    return replace(about, nudge_id=nudge_id)


def _schedule_dm(
    session: Session, deal: FollowedDeal, run_id: int | None, key: str, now: datetime
) -> int | None:
    assert deal.rep_slack_id is not None
    return nudges.schedule_id(
        session=session,
        team_id=deal.team_id,
        user_slack_id=deal.rep_slack_id,
        kind=DEAL_DM,
        due_at=now,
        idempotency_key=key,
        payload={"deal_id": deal.id},
        ritual_run_id=run_id,
        now=now,
    )


def _follow_up(
    session: Session,
    deal: FollowedDeal,
    run_id: int | None,
    now: datetime,
    follow_ups: FollowUps,
    *,
    remind: bool = True,
) -> None:
    schedule_deal_followups(
        session=session,
        deal=deal,
        run_id=run_id,
        now=now,
        reminder_days=follow_ups.reminder_days,
        loss_streak_at=follow_ups.loss_streak_at,
        remind=remind,
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


@dataclass
class _Fixing:
    """One correction under way: what it works on, in its transaction."""

    session: Session
    deal: Deal
    run: RitualRun | None
    sent: list[Nudge]
    now: datetime
    follow_ups: FollowUps

    @property
    def prefix(self) -> str:
        return f"deal:{self.deal.id}:"

    def dms_of(self, user: str | None, how: str) -> list[DmChange]:
        return [_change(n, how) for n in self.sent if n.user_slack_id == user]


def correct(
    *, session: Session, deal_id: int, fix: Correction, now: datetime, follow_ups: FollowUps
) -> Corrected | None:
    """Apply a correction; None when the deal is gone, withdrawn, or the gate says it is
    too late. Follow-ups move with it, and the DMs already sent are named for updating."""
    deal = session.get(Deal, deal_id)
    if deal is None or deal.id is None or deal.status != OPEN:
        return None
    run = debrief_run(session=session, deal_id=deal.id)
    sent = _sent_dms(session, deal.id)
    if fix.gate and not _untouched(deal, run, now) and not (fix.gate == "delete" and not sent):
        return None
    fixing = _Fixing(session, deal, run, sent, now, follow_ups)
    if fix.withdraw:
        return _withdraw(fixing, fix.withdraw)
    changed = _set_fields(deal, run, fix)
    new_outcome = fix.outcome if fix.outcome and fix.outcome != deal.outcome else None
    new_rep = fix.rep if fix.rep and fix.rep != deal.rep_slack_id else None
    if not (changed or new_outcome or new_rep):
        return Corrected(deal, False)
    deal.revision += 1
    deal.updated_at = now
    result = Corrected(deal, True, old_rep=deal.rep_slack_id)
    if new_outcome:
        _set_outcome(fixing, new_outcome)
    session.add(deal)
    if run is not None:
        run.updated_at = now
        session.add(run)
    if new_rep:
        return _hand_over(fixing, new_rep, result)
    if new_outcome and run is not None and deal.rep_slack_id:
        _follow_up(session, deal, run.id, now, follow_ups, remind=False)
        _recheck_streak_offers(session, deal, deal.rep_slack_id, follow_ups.loss_streak_at)
    result.dms = fixing.dms_of(deal.rep_slack_id, "current")
    return result


def _withdraw(fixing: _Fixing, why: str) -> Corrected:
    deal, run, now = fixing.deal, fixing.run, fixing.now
    deal.status = WITHDRAWN
    deal.withdrawn_reason = why
    deal.revision += 1
    deal.updated_at = now
    fixing.session.add(deal)
    nudges.cancel_pending(session=fixing.session, idempotency_key_prefix=fixing.prefix, now=now)
    if run is not None:
        run.state = DebriefState.WITHDRAWN
        run.updated_at = now
        fixing.session.add(run)
    _recheck_streak_offers(
        fixing.session, deal, deal.rep_slack_id, fixing.follow_ups.loss_streak_at
    )
    return Corrected(deal, True, fixing.dms_of(deal.rep_slack_id, "withdrawn"))


def _set_fields(deal: Deal, run: RitualRun | None, fix: Correction) -> bool:
    """The account and amount as corrected; True when either changed."""
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
    return changed


def _set_outcome(fixing: _Fixing, outcome: str) -> None:
    fixing.deal.outcome = outcome
    nudges.cancel_pending(
        session=fixing.session,
        idempotency_key_prefix=f"{fixing.prefix}streak-offer",
        now=fixing.now,
    )
    if fixing.run is not None:
        fixing.run.ritual = RITUAL_FOR[outcome]
        # The answers were to the other script; the DM starts over.
        dropped = tuple(k for k in fixing.run.data or {} if k not in KEPT_IN_DATA)
        write_debrief(fixing.run, fixing.now, drop=dropped)


def _hand_over(fixing: _Fixing, new_rep: str, result: Corrected) -> Corrected:
    """A new rep: the old one's pending nudges go, the new one gets the DM and reminder."""
    session, deal, now = fixing.session, fixing.deal, fixing.now
    old_rep = deal.rep_slack_id
    deal.rep_slack_id = new_rep
    nudges.cancel_pending(session=session, idempotency_key_prefix=fixing.prefix, now=now)
    run = fixing.run or RitualRun(
        team_id=deal.team_id,
        ritual=RITUAL_FOR[deal.outcome],
        user_slack_id=new_rep,
        deal_id=deal.id,
        account=deal.account,
        created_at=now,
    )
    run.user_slack_id = new_rep
    # The old rep's answers are not the new rep's: the DM starts over with nothing.
    write_debrief(run, now, state=DebriefState.DM_PENDING, drop=tuple(run.data or {}))
    session.add(run)
    session.flush()
    nudge_id = _schedule_dm(session, deal, run.id, f"{fixing.prefix}dm:r{deal.revision}", now)
    if nudge_id is not None:
        result.deliver_ids.append(nudge_id)
    _follow_up(session, deal, run.id, now, fixing.follow_ups)
    _recheck_streak_offers(session, deal, old_rep, fixing.follow_ups.loss_streak_at)
    result.dms = fixing.dms_of(old_rep, "handed")
    return result


def _sent_dms(session: Session, deal_id: int) -> list[Nudge]:
    return list(
        session.exec(
            select(Nudge)
            .where(
                Nudge.kind == DEAL_DM,
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
    return run.state in (DebriefState.DM_PENDING, DebriefState.DM_SENT) and not (
        ACTED_KEYS & set(run.data)
    )


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


def _change(nudge: Nudge, how: str) -> DmChange:
    return DmChange(nudge.user_slack_id, str(nudge.sent_channel), str(nudge.sent_ts), how)
