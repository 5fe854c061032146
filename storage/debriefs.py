"""Debrief queries: the ritual runs behind win / loss debriefs and manager calls,
loss streaks, tee-up agreements, and the follow-up nudges a closed deal schedules.

Answer keys stay flat and readable because other rituals (`/loop prep`) read them:
loss: data["client"] = {reason, missed, needs, solution, gap, takeaways} and, when picked,
      reason_category (one of REASON_CATEGORIES) and competitor (only with "competitor");
      data["guess"] and, when picked, data["guess_category"];
win:  data["win"] = {why, appealed, almost, quote, quote_ok, strengths}.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Table, bindparam, func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from storage import nudges
from storage.db import run_prepared
from storage.kinds import (
    DEBRIEF_RITUALS,
    REASON_CATEGORIES,
    CallState,
    DealStatus,
    DebriefState,
    Kind,
    Ritual,
)
from storage.models import Deal, Nudge, Person, RitualRun
from storage.people import get_person
from storage.run_data import tee_up_data

LOGGED = DebriefState.LOGGED
# Only "lost" counts towards a streak: a no-decision is nobody's win, and mixing it in
# would offer the manager call to reps whose clients simply stalled. Any other outcome
# (won, no decision) ends the streak.
STREAK_OUTCOMES = frozenset({"lost"})


class RunData(BaseModel):
    """What a debrief or manager-call run collects, as stored in `RitualRun.data`.

    Validated when read (`debrief_data`, `call_data`) and written back through
    `write_debrief` / `write_call` only, with exactly the keys that were set: rows
    written before this model read unchanged, and keys other rituals add pass through
    (`extra="allow"`)."""

    model_config = ConfigDict(extra="allow")

    # The log's answers wait as a draft, numbered, until the loop-back is confirmed.
    draft: dict[str, str] | None = None
    draft_rev: int | None = None
    client: dict[str, str] | None = None  # the client's answer, once confirmed
    logged_at: str | None = None


class DebriefData(RunData):
    """The rep's win or loss debrief."""

    dm_channel: str | None = None  # the deal DM (handlers/deals.py)
    dm_ts: str | None = None
    mode: str | None = None  # heard / helped / hugged
    stage: str | None = None  # where the call script is
    script_channel: str | None = None
    script_ts: str | None = None
    guess: str | None = None  # the rep's own guess, before the client's answer
    guess_category: str | None = None  # its category (REASON_CATEGORIES), when picked
    logged_by: str | None = None  # "rep", or "manager" when the manager's call logged it
    win: dict[str, Any] | None = None  # the win log's answers
    shared: bool | None = None  # a lesson shared with the team
    shared_at: str | None = None


class CallData(RunData):
    """The manager's call on a rep's lost deal."""

    rep: str | None = None
    saves: int | None = None  # how often the manager confirmed a log (each tells the rep)
    # True when the rep picked a trusted colleague rather than their manager: the DM to
    # the caller says why they were asked, not "you're their manager".
    colleague: bool | None = None


COMPETITOR_MAX = 100


def reason_category(value: object) -> str | None:
    """`value` when it is one of the reason categories, else None: a value no form
    offered (a forged submission, an old row) is never stored or counted."""
    return value if isinstance(value, str) and value in REASON_CATEGORIES else None


def clean_reason(answers: dict[str, str]) -> dict[str, str]:
    """Answers as they may be stored: `reason_category` only when it is a category, and
    `competitor` (clipped) only beside the category "competitor"."""
    out = {k: v for k, v in answers.items() if k not in ("reason_category", "competitor")}
    category = reason_category(answers.get("reason_category"))
    if category:
        out["reason_category"] = category
        competitor = str(answers.get("competitor") or "").strip()[:COMPETITOR_MAX]
        if category == "competitor" and competitor:
            out["competitor"] = competitor
    return out


def debrief_data(run: RitualRun) -> DebriefData:
    return DebriefData.model_validate(run.data or {})


def call_data(run: RitualRun) -> CallData:
    return CallData.model_validate(run.data or {})


def _write(
    run: RitualRun,
    model: type[RunData],
    now: datetime,
    state: str | None,
    drop: tuple[str, ...],
    changes: dict[str, Any],
) -> RunData:
    merged = {k: v for k, v in {**(run.data or {}), **changes}.items() if k not in drop}
    data = model.model_validate(merged)
    # A new dict each time: SQLAlchemy only sees a JSON column change on assignment.
    run.data = data.model_dump(mode="json", exclude_unset=True)
    run.updated_at = now
    if state:
        run.state = state
    return data


def write_debrief(
    run: RitualRun,
    now: datetime,
    *,
    state: str | None = None,
    drop: tuple[str, ...] = (),
    **changes: Any,
) -> DebriefData:
    """The one way the debrief listeners change a debrief's data: `changes` merged in and
    validated, `drop` removed, `state` set when given."""
    data = _write(run, DebriefData, now, state, drop, changes)
    assert isinstance(data, DebriefData)
    return data


def write_call(
    run: RitualRun,
    now: datetime,
    *,
    state: str | None = None,
    drop: tuple[str, ...] = (),
    **changes: Any,
) -> CallData:
    """`write_debrief` for a manager call's data."""
    data = _write(run, CallData, now, state, drop, changes)
    assert isinstance(data, CallData)
    return data


def debrief_run(*, session: Session, deal_id: int) -> RitualRun | None:
    """The rep's debrief run for a deal (win or loss)."""
    return session.exec(
        select(RitualRun)
        .where(RitualRun.deal_id == deal_id, col(RitualRun.ritual).in_(DEBRIEF_RITUALS))
        .order_by(col(RitualRun.id))
    ).first()


def manager_call_run(*, session: Session, deal_id: int) -> RitualRun | None:
    return session.exec(
        select(RitualRun)
        .where(RitualRun.deal_id == deal_id, RitualRun.ritual == Ritual.MANAGER_CALL)
        .order_by(col(RitualRun.id).desc())
    ).first()


def update_data(run: RitualRun, now: datetime, **changes: Any) -> None:
    """A new dict each time: SQLAlchemy only sees a JSON column change on assignment."""
    run.data = {**run.data, **changes}
    run.updated_at = now


_DEALS: Table = Deal.__table__  # type: ignore[attr-defined]
# Built once: every lost deal taken in asks it.
_LATEST_OUTCOMES = (
    sql_select(_DEALS.c.outcome)
    # A withdrawn deal (not a deal after all) is no part of anyone's streak.
    .where(
        _DEALS.c.team_id == bindparam("team_id"),
        _DEALS.c.rep_slack_id == bindparam("rep"),
        _DEALS.c.status != DealStatus.WITHDRAWN.value,
    )
    .order_by(_DEALS.c.created_at.desc(), _DEALS.c.id.desc())
    .limit(bindparam("limit"))
)


def loss_streak(*, session: Session, team_id: str, rep_slack_id: str, limit: int = 50) -> int:
    """How many of the rep's most recent deals in a row were lost."""
    rows = run_prepared(
        session, _LATEST_OUTCOMES, {"team_id": team_id, "rep": rep_slack_id, "limit": limit}
    ).fetchall()
    count = 0
    for (outcome,) in rows:
        if outcome not in STREAK_OUTCOMES:
            break
        count += 1
    return count


def teeup_agreed(*, session: Session, team_id: str, account: str) -> bool:
    """Did the client agree, before the proposal, to a debrief if it's a no? Account
    names are typed by hand in several places, so they match case-insensitively."""
    runs = session.exec(
        select(RitualRun)
        .where(
            RitualRun.team_id == team_id,
            RitualRun.ritual == Ritual.TEE_UP,
            func.lower(RitualRun.account) == account.strip().lower(),
        )
        .order_by(col(RitualRun.id).desc())
    ).all()
    return any(bool(tee_up_data(run).agreed) for run in runs[:1])


class FollowedDeal(Protocol):
    """What scheduling a deal's follow-ups reads: a `Deal`, or the intake's fresh row."""

    @property
    def id(self) -> int | None: ...
    @property
    def team_id(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def rep_slack_id(self) -> str | None: ...
    @property
    def revision(self) -> int: ...


def schedule_deal_followups(
    *,
    session: Session,
    deal: FollowedDeal,
    run_id: int | None,
    now: datetime,
    reminder_days: int,
    loss_streak_at: int,
    remind: bool = True,
) -> list[int]:
    """In the deal's own transaction: the one debrief reminder, and the proactive
    manager-call offer when this loss makes exactly `loss_streak_at` in a row (so a
    streak gets one offer, keyed by the deal that completed it). Returns new nudge ids
    that are due now.

    After a correction (deal.revision > 0) the keys carry the revision, so a deal handed to
    another rep, or whose outcome changed, gets follow-ups of its own; `remind=False`
    re-evaluates only the streak."""
    assert deal.id is not None and deal.rep_slack_id
    suffix = f":r{deal.revision}" if deal.revision else ""
    if remind:
        nudges.schedule_id(
            session=session,
            team_id=deal.team_id,
            user_slack_id=deal.rep_slack_id,
            kind=Kind.DEBRIEF_REMINDER,
            due_at=now + timedelta(days=reminder_days),
            idempotency_key=f"deal:{deal.id}:debrief-reminder{suffix}",
            payload={"deal_id": deal.id},
            ritual_run_id=run_id,
            now=now,
        )
    due_now: list[int] = []
    if deal.outcome in STREAK_OUTCOMES:
        session.flush()
        count = loss_streak(session=session, team_id=deal.team_id, rep_slack_id=deal.rep_slack_id)
        if count == loss_streak_at:
            due_now.append(
                nudges.schedule_id(
                    session=session,
                    team_id=deal.team_id,
                    user_slack_id=deal.rep_slack_id,
                    kind=Kind.LOSS_STREAK_OFFER,
                    due_at=now,
                    idempotency_key=f"deal:{deal.id}:streak-offer{suffix}",
                    payload={"deal_id": deal.id, "count": count},
                    ritual_run_id=run_id,
                    now=now,
                )
            )
    return due_now


def nudges_for_deal(*, session: Session, deal_id: int) -> list[Nudge]:
    return list(
        session.exec(
            select(Nudge)
            .where(col(Nudge.idempotency_key).startswith(f"deal:{deal_id}:"))
            .order_by(col(Nudge.id))
        ).all()
    )


# --- what the debrief listeners read and write (each one unit of work: rt.tx) ----------

OPEN = CallState.OPEN
DECLINED = CallState.DECLINED
MANAGER_CALL = Ritual.MANAGER_CALL
ADMINS_NAMED = 3  # more mentions than this reads as a roll call, not a pointer

Stale = Literal["stale"]
STALE: Stale = "stale"


@dataclass
class DealState:
    deal: Deal
    run: RitualRun | None  # the rep's win / loss debrief
    call: RitualRun | None  # the manager call, if one was asked for

    @property
    def data(self) -> DebriefData:
        """The debrief's data (empty when there is no debrief)."""
        return debrief_data(self.run) if self.run is not None else DebriefData()

    @property
    def call_data(self) -> CallData:
        return call_data(self.call) if self.call is not None else CallData()


def deal_state(*, session: Session, deal_id: int | None) -> DealState | None:
    """The deal behind a button, its debrief and its manager call."""
    if deal_id is None:
        return None
    deal = session.get(Deal, deal_id)
    if deal is None or deal.id is None:
        return None
    return DealState(
        deal=deal,
        run=debrief_run(session=session, deal_id=deal.id),
        call=manager_call_run(session=session, deal_id=deal.id),
    )


def sent_reminders(*, session: Session, deal_id: int) -> list[tuple[str, str]]:
    """Where this deal's debrief reminders went (channel, ts), to show them logged."""
    rows = session.exec(
        select(Nudge).where(
            Nudge.kind == Kind.DEBRIEF_REMINDER,
            Nudge.state == nudges.SENT,
            col(Nudge.idempotency_key).startswith(f"deal:{deal_id}:debrief-reminder"),
        )
    ).all()
    return [
        (n.sent_channel, n.sent_ts)
        for n in rows
        if n.sent_channel and n.sent_ts and not is_bundle(session=session, ts=n.sent_ts)
    ]


def sent_call_messages(*, session: Session, deal_id: int) -> list[tuple[str, str]]:
    """Where the caller's DM and reminder for this deal's call went (channel, ts), to show
    the call made once it is logged: their "Log the call" / "I can't this time" make way."""
    rows = session.exec(
        select(Nudge).where(
            col(Nudge.kind).in_([Kind.MANAGER_CALL_DM, Kind.MANAGER_CALL_REMINDER]),
            Nudge.state == nudges.SENT,
            col(Nudge.idempotency_key).startswith(f"deal:{deal_id}:manager-call"),
        )
    ).all()
    return [
        (n.sent_channel, n.sent_ts)
        for n in rows
        if n.sent_channel and n.sent_ts and not is_bundle(session=session, ts=n.sent_ts)
    ]


def is_bundle(*, session: Session, ts: str) -> bool:
    """Did several nudges go out in this one message (a bundle)? Updating such a message
    from outside a click on it would replace every section with one, so it is left alone."""
    count = session.exec(select(func.count()).select_from(Nudge).where(Nudge.sent_ts == ts)).one()
    return int(count) > 1


def get_deal(*, session: Session, deal_id: int) -> Deal | None:
    return session.get(Deal, deal_id)


def save_run(
    *, session: Session, run_id: int | None, now: datetime, state: str | None = None, **changes: Any
) -> RitualRun | None:
    """Merge `changes` into a debrief's data; `state` sets its state too."""
    if run_id is None:
        return None
    run = session.get(RitualRun, run_id)
    if run is None:
        return None
    write_debrief(run, now, state=state, **changes)
    session.add(run)
    return run


def save_guess(
    *, session: Session, run_id: int | None, guess: str, category: str | None, now: datetime
) -> RitualRun | None:
    """The rep's guess and its category; a category that is none of the options (or none
    picked) leaves no category, also when an earlier save had one."""
    if run_id is None:
        return None
    run = session.get(RitualRun, run_id)
    if run is None:
        return None
    category = reason_category(category)
    if category:
        write_debrief(run, now, guess=guess, guess_category=category)
    else:
        write_debrief(run, now, drop=("guess_category",), guess=guess)
    session.add(run)
    return run


def claim_choice(
    *, session: Session, run_id: int | None, field: str, value: str, now: datetime
) -> bool:
    """Record `field = value` on a run unless that very choice is there: True for the
    click that made (or changed) the choice, False for the same choice again. The row is
    locked for the check, so two clicks arriving together cannot both win."""
    if run_id is None:
        return False
    run = session.get(RitualRun, run_id, with_for_update=True)
    if run is None or getattr(debrief_data(run), field, None) == value:
        return False
    _write(run, DebriefData, now, None, (), {field: value})
    session.add(run)
    return True


def draft_is_stale(data: RunData, rev: int | None) -> bool:
    """Was the clicked summary replaced by a newer draft (or confirmed after one)?"""
    return rev is not None and (data.draft_rev or 0) != rev


def store_draft(
    *, session: Session, deal_id: int, role: str, answers: dict[str, str], now: datetime
) -> tuple[Deal, int | None] | None:
    """The answers wait as a draft until the loop-back is confirmed. Each draft gets the
    next revision number, which its summary's buttons carry: Confirm on an older summary
    must not save answers the reader was never shown."""
    deal = session.get(Deal, deal_id)
    if deal is None:
        return None
    run = (
        manager_call_run(session=session, deal_id=deal_id)
        if role == "manager"
        else debrief_run(session=session, deal_id=deal_id)
    )
    if run is None:
        return deal, None
    answers = clean_reason(answers)
    if role == "manager":
        rev = (call_data(run).draft_rev or 0) + 1
        write_call(run, now, draft=answers, draft_rev=rev)
    else:
        rev = (debrief_data(run).draft_rev or 0) + 1
        write_debrief(run, now, draft=answers, draft_rev=rev)
    session.add(run)
    return deal, rev


def confirm_rep_log(
    *, session: Session, deal_id: int, rev: int | None, now: datetime
) -> tuple[Deal, dict[str, str], DebriefData] | Stale | None:
    """The rep's draft becomes the logged answer: the deal, the answers and the debrief's
    data (its guess and the guess's category). None when there is no draft (a second
    click on an already confirmed summary); STALE when the summary clicked is older than
    the latest draft."""
    deal = session.get(Deal, deal_id)
    run = debrief_run(session=session, deal_id=deal_id)
    if deal is None or run is None:
        return None
    data = debrief_data(run)
    if draft_is_stale(data, rev):
        return STALE
    if not data.draft:
        return None
    answers = dict(data.draft)
    write_debrief(
        run,
        now,
        state=LOGGED,
        drop=("draft",),
        client=answers,
        logged_at=now.isoformat(),
        logged_by="rep",
    )
    session.add(run)
    return deal, answers, data


def latest_debrief(
    *, session: Session, team_id: str, user_id: str, account: str
) -> tuple[Deal, RitualRun] | None:
    """The rep's most recent closed deal with this account (names typed by hand, so
    case-insensitive) and its debrief."""
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


def rep_accounts(*, session: Session, team_id: str, user_id: str, limit: int = 500) -> list[str]:
    """The accounts of a rep's closed deals, most recent first, each once: what
    `/loop debrief` offers when a name was mistyped."""
    names = session.exec(
        select(Deal.account)
        .where(Deal.team_id == team_id, Deal.rep_slack_id == user_id)
        .order_by(col(Deal.created_at).desc(), col(Deal.id).desc())
        .limit(limit)
    ).all()
    return list(dict.fromkeys(name for name in names if name))


def open_debrief(*, session: Session, deal_id: int) -> tuple[Deal, RitualRun] | None:
    """The deal and its debrief, unless the debrief was logged meanwhile."""
    deal = session.get(Deal, deal_id)
    run = debrief_run(session=session, deal_id=deal_id)
    if deal is None or run is None or run.state == LOGGED:
        return None
    return deal, run


def save_win(
    *, session: Session, deal_id: int, answers: dict[str, Any], now: datetime
) -> Deal | None:
    """The win log's answers; saving again replaces them."""
    deal = session.get(Deal, deal_id)
    run = debrief_run(session=session, deal_id=deal_id)
    if deal is None or run is None:
        return None
    write_debrief(run, now, state=LOGGED, win=answers, logged_at=now.isoformat())
    session.add(run)
    return deal


def share_lesson(*, session: Session, deal_id: int, now: datetime) -> str | None:
    """Mark the logged debrief shared; the account's name, or None when there is no
    logged debrief to share yet."""
    deal = session.get(Deal, deal_id)
    run = debrief_run(session=session, deal_id=deal_id)
    if deal is None or run is None or run.state != LOGGED:
        return None
    write_debrief(run, now, shared=True, shared_at=now.isoformat())
    session.add(run)
    return deal.account


# --- the manager's call ------------------------------------------------------------------


def admin_mentions(*, session: Session, team_id: str) -> list[str]:
    """The workspace admins the bot has met, as Slack mentions (a few at most): who a rep
    without a manager should ask to set one."""
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


# The caller's answers (the call-log modal): what the client said, whether the door is
# open for next time, the next step, and (optional) where we missed the mark.
CALL_FIELDS = ("heard", "missed", "door", "next")
DOOR_CHOICES = ("open", "maybe", "closed")


@dataclass(frozen=True)
class CallAsk:
    """What asking for a call did: `new` when this click asked, else the call already
    asked for (its caller and state) is what the rep hears about."""

    nudge_id: int | None
    new: bool
    caller: str
    state: str


def live_call(call: RitualRun | None) -> bool:
    """A call that is the caller's now (asked, or made): the rep's own reminders wait."""
    return call is not None and call.state in (OPEN, LOGGED)


def open_call(
    *,
    session: Session,
    team_id: str,
    deal_id: int,
    rep: str,
    caller: str,
    now: datetime,
    reminder_days: int,
    colleague: bool = False,
) -> CallAsk | None:
    """The manager_call run, the caller's DM and its one reminder, in one transaction;
    the rep's own debrief reminders (and the note their manager would get about an open
    debrief) are cancelled here: from now on the caller owns the call. Asking again while
    a call is open or made is a no-op that names who has it. The deal row is locked for
    the check, so a double click (or the manager and colleague buttons together) cannot
    open two calls."""
    deal = session.get(Deal, deal_id, with_for_update=True)
    if deal is None:
        return None
    existing = manager_call_run(session=session, deal_id=deal_id)
    if existing is not None and live_call(existing):
        return CallAsk(None, False, existing.user_slack_id, existing.state)
    data = CallData(rep=rep, colleague=True) if colleague else CallData(rep=rep)
    run = RitualRun(
        team_id=team_id,
        ritual=MANAGER_CALL,
        user_slack_id=caller,
        deal_id=deal_id,
        account=deal.account,
        state=OPEN,
        data=data.model_dump(exclude_unset=True),
        created_at=now,
        updated_at=now,
    )
    session.add(run)
    session.flush()
    # The rep's "isn't logged yet" and their manager's heads-up about an open debrief: both
    # nag about a debrief that is no longer the rep's to run. Named exactly, so other
    # follow-ups keyed under the deal are left alone.
    for nag in ("debrief-reminder", "debrief-manager"):
        prefix = f"deal:{deal_id}:{nag}"
        nudges.cancel_pending(session=session, idempotency_key_prefix=prefix, now=now)
    payload = {"deal_id": deal_id, "call_id": run.id}
    dm = nudges.schedule(
        session=session,
        team_id=team_id,
        user_slack_id=caller,
        kind=Kind.MANAGER_CALL_DM,
        due_at=now,
        idempotency_key=f"deal:{deal_id}:manager-call:{run.id}",
        payload=payload,
        ritual_run_id=run.id,
        now=now,
    )
    nudges.schedule(
        session=session,
        team_id=team_id,
        user_slack_id=caller,
        kind=Kind.MANAGER_CALL_REMINDER,
        due_at=now + timedelta(days=reminder_days),
        idempotency_key=f"deal:{deal_id}:manager-call-reminder:{run.id}",
        payload=payload,
        ritual_run_id=run.id,
        now=now,
    )
    return CallAsk(dm.id, True, caller, OPEN)


def debrief_answers(call_answers: dict[str, str]) -> dict[str, str]:
    """The caller's answers as the rep's debrief keeps them (the keys `/loop prep` and
    the guess-vs-reason comparison read): what the client said is their reason. Answers
    logged with the rep's form before the call had its own form pass through."""
    if "heard" not in call_answers:
        return dict(call_answers)
    out = {"reason": call_answers["heard"]}
    out.update({k: v for k, v in call_answers.items() if k != "heard" and v})
    return out


@dataclass(frozen=True)
class CallDone:
    """A manager call confirmed or declined: the rep to tell, and the DM that tells them."""

    rep: str
    nudge_id: int | None


def confirm_call(
    *, session: Session, deal_id: int, rev: int | None, now: datetime
) -> CallDone | Stale | None:
    """The manager's draft becomes the call's answer; the rep's debrief counts as logged
    too (their reminders stop, `/loop prep` finds it), unless the rep logged their own
    already — and a manager's later edit replaces what the manager logged there before.
    Schedules the DM that tells the rep. STALE when the summary clicked is older than the
    latest draft."""
    deal = session.get(Deal, deal_id)
    call = manager_call_run(session=session, deal_id=deal_id)
    if deal is None or call is None:
        return None
    data = call_data(call)
    if draft_is_stale(data, rev):
        return STALE
    if not data.draft:
        return None
    answers = dict(data.draft)
    saves = (data.saves or 0) + 1
    logged_at = now.isoformat()
    write_call(
        call, now, state=LOGGED, drop=("draft",), client=answers, logged_at=logged_at, saves=saves
    )
    session.add(call)
    run = debrief_run(session=session, deal_id=deal_id)
    if run is not None and (run.state != LOGGED or debrief_data(run).logged_by == "manager"):
        write_debrief(
            run,
            now,
            state=LOGGED,
            client=debrief_answers(answers),
            logged_by="manager",
            logged_at=logged_at,
        )
        session.add(run)
    rep = str(data.rep or deal.rep_slack_id or "")
    key = f"deal:{deal_id}:manager-result:{call.id}:{saves}"
    return _tell_rep(session, deal, call, rep, Kind.MANAGER_CALL_RESULT, key, now)


def decline_call(
    *, session: Session, deal_id: int, now: datetime, reminder_days: int = 3
) -> CallDone | None:
    """The caller declines an open call; the rep is told by a DM scheduled here, and the
    debrief is theirs again — with the one reminder their own debrief would have had."""
    deal = session.get(Deal, deal_id)
    call = manager_call_run(session=session, deal_id=deal_id)
    if deal is None or call is None or call.state != OPEN:
        return None
    call.state = DECLINED
    call.updated_at = now
    session.add(call)
    rep = str(call_data(call).rep or deal.rep_slack_id or "")
    run = debrief_run(session=session, deal_id=deal_id)
    if run is not None and run.state != LOGGED and rep:
        nudges.schedule(
            session=session,
            team_id=deal.team_id,
            user_slack_id=rep,
            kind=Kind.DEBRIEF_REMINDER,
            due_at=now + timedelta(days=reminder_days),
            idempotency_key=f"deal:{deal_id}:debrief-reminder:handed-back:{call.id}",
            payload={"deal_id": deal_id},
            ritual_run_id=run.id,
            now=now,
        )
    key = f"deal:{deal_id}:manager-declined:{call.id}"
    return _tell_rep(session, deal, call, rep, Kind.MANAGER_CALL_DECLINED, key, now)


def _tell_rep(
    session: Session, deal: Deal, call: RitualRun, rep: str, kind: Kind, key: str, now: datetime
) -> CallDone:
    """The DM that tells the rep what became of the call they handed to their manager."""
    nudge = nudges.schedule(
        session=session,
        team_id=deal.team_id,
        user_slack_id=rep,
        kind=kind,
        due_at=now,
        idempotency_key=key,
        payload={"deal_id": deal.id, "call_id": call.id},
        ritual_run_id=call.id,
        now=now,
    )
    return CallDone(rep, nudge.id)


def call_context(
    *, session: Session, deal_id: int, call_id: int | None
) -> tuple[Deal, RitualRun | None, RitualRun | None] | None:
    """The deal, the manager call a nudge names, and the rep's debrief."""
    deal = session.get(Deal, deal_id)
    if deal is None:
        return None
    call = session.get(RitualRun, call_id) if call_id else None
    return deal, call, debrief_run(session=session, deal_id=deal_id)


def schedule_now(
    *,
    session: Session,
    team_id: str,
    user_id: str,
    kind: str,
    key: str,
    payload: dict[str, Any],
    now: datetime,
    run_id: int | None = None,
) -> int | None:
    """A bot-initiated DM is a nudge row first (then delivered at once): its id, or None
    when that DM was already scheduled."""
    nudge = nudges.schedule(
        session=session,
        team_id=team_id,
        user_slack_id=user_id,
        kind=kind,
        due_at=now,
        idempotency_key=key,
        payload=payload,
        ritual_run_id=run_id,
        now=now,
    )
    return nudge.id if nudge.state == nudges.PENDING else None


def schedule_later(
    *,
    session: Session,
    team_id: str,
    user_id: str,
    kind: str,
    key: str,
    payload: dict[str, Any],
    due_at: datetime,
    now: datetime,
    run_id: int | None = None,
) -> None:
    nudges.schedule(
        session=session,
        team_id=team_id,
        user_slack_id=user_id,
        kind=kind,
        due_at=due_at,
        idempotency_key=key,
        payload=payload,
        ritual_run_id=run_id,
        now=now,
    )


def manager_slack_id(*, session: Session, team_id: str, user_id: str) -> str | None:
    """The rep's manager, as set by `/loop team` or the CSV import."""
    person = get_person(session=session, team_id=team_id, slack_id=user_id)
    return person.manager_slack_id if person else None
