"""Concern loops: a client's concern that stays open until the rep closes or drops it.

One `RitualRun(ritual="concern")` per concern, `state` open | closed | dropped, with
data = ConcernData (storage/run_data.py); `due_at` is the next
check-in. Check-in n is the nudge `concern:<run id>:checkin:<n>`, so answering the same
check-in twice (a double click, a retried request) schedules the next one only once.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from storage import nudges
from storage.deals import get_deal
from storage.kinds import ConcernState, Kind, Ritual
from storage.models import Nudge, RitualRun
from storage.people import person_tz
from storage.run_data import ConcernAsk, concern_data, write_concern

CONCERN = Ritual.CONCERN
CHECKIN_KIND = Kind.CONCERN_CHECKIN
OPEN = ConcernState.OPEN
CLOSED = ConcernState.CLOSED
DROPPED = ConcernState.DROPPED

SATISFIED = "satisfied"
NOT_YET = "not_yet"
DIDNT_ASK = "didnt_ask"
DROP = "drop"
ANSWERS = (SATISFIED, NOT_YET, DIDNT_ASK, DROP)


def checkin_key(run_id: int, n: int) -> str:
    return f"concern:{run_id}:checkin:{n}"


def _schedule_checkin(
    *, session: Session, run: RitualRun, n: int, due_at: datetime, now: datetime
) -> Nudge:
    assert run.id is not None
    return nudges.schedule(
        session=session,
        team_id=run.team_id,
        user_slack_id=run.user_slack_id,
        kind=CHECKIN_KIND,
        due_at=due_at,
        idempotency_key=checkin_key(run.id, n),
        payload={"run_id": run.id, "n": n},
        ritual_run_id=run.id,
        now=now,
    )


def open_concern(
    *,
    session: Session,
    team_id: str,
    rep_slack_id: str,
    account: str,
    concern: str,
    due_at: datetime,
    now: datetime,
    deal_id: int | None = None,
) -> tuple[RitualRun, Nudge]:
    """The loop and its first check-in, in one transaction."""
    run = RitualRun(
        team_id=team_id,
        ritual=CONCERN,
        user_slack_id=rep_slack_id,
        deal_id=deal_id,
        account=account,
        state=OPEN,
        due_at=due_at,
        created_at=now,
        updated_at=now,
    )
    write_concern(run, now, concern=concern, asks=[])
    session.add(run)
    session.flush()
    nudge = _schedule_checkin(session=session, run=run, n=1, due_at=due_at, now=now)
    return run, nudge


def again_key(run_id: int, n: int) -> str:
    """Check-in n asked once more, when the first ask went unanswered."""
    return f"{checkin_key(run_id, n)}:again"


def checkin_sent(
    *, session: Session, run_id: int, n: int, again: bool, now: datetime, ask_again_at: datetime
) -> None:
    """Check-in n went out. Unanswered, it is asked once more at `ask_again_at`; after
    that second ask nothing more is scheduled, and the loop's `due_at` stays at the
    second ask, in the past from then on: the list and App Home show it overdue, never a
    past date as the next check-in."""
    run = get_loop(session=session, run_id=run_id)
    if run is None or run.state != OPEN or run.id is None:
        return
    if any(a.n == n for a in concern_data(run).asks):
        return  # answered already
    if again:
        run.due_at = now
    else:
        nudges.schedule(
            session=session,
            team_id=run.team_id,
            user_slack_id=run.user_slack_id,
            kind=CHECKIN_KIND,
            due_at=ask_again_at,
            idempotency_key=again_key(run.id, n),
            payload={"run_id": run.id, "n": n, "again": True},
            ritual_run_id=run.id,
            now=now,
        )
        run.due_at = ask_again_at
    run.updated_at = now
    session.add(run)


def open_loops(*, session: Session, team_id: str, user_slack_id: str) -> list[RitualRun]:
    return list(
        session.exec(
            select(RitualRun)
            .where(
                RitualRun.team_id == team_id,
                RitualRun.user_slack_id == user_slack_id,
                RitualRun.ritual == CONCERN,
                RitualRun.state == OPEN,
            )
            .order_by(col(RitualRun.due_at), col(RitualRun.id))
        ).all()
    )


def get_loop(*, session: Session, run_id: int) -> RitualRun | None:
    run = session.get(RitualRun, run_id)
    return run if run is not None and run.ritual == CONCERN else None


def answer(
    *,
    session: Session,
    run_id: int,
    user_slack_id: str,
    reply: str,
    now: datetime,
    next_due: datetime,
    n: int | None = None,
) -> RitualRun | None:
    """Record the rep's answer to check-in n (None: from the list, no check-in).

    Satisfied closes the loop and drop drops it (their pending check-ins are cancelled);
    not yet / didn't ask keep it open and schedule check-in n + 1 at next_due. Returns
    the run, or None when it is not this rep's open loop (the caller says so)."""
    run = get_loop(session=session, run_id=run_id)
    if run is None or run.user_slack_id != user_slack_id:
        return None
    asks = list(concern_data(run).asks)
    if n is not None and any(a.n == n and a.answer == reply for a in asks):
        return run  # the same answer to the same check-in again (a double click)
    if run.state != OPEN:
        return None
    if n is not None and any(a.n == n for a in asks) and reply not in (SATISFIED, DROP):
        return run  # this check-in was answered already (a double click): nothing new
    asks.append(ConcernAsk(n=n, answer=reply, at=now.isoformat()))
    if n is not None:
        # Answered: the second ask of this check-in is not needed any more.
        nudges.cancel_pending(session=session, idempotency_key_prefix=again_key(run_id, n), now=now)
    if reply in (SATISFIED, DROP):
        run.state = CLOSED if reply == SATISFIED else DROPPED
        run.due_at = None
        nudges.cancel_pending(session=session, idempotency_key_prefix=f"concern:{run_id}:", now=now)
    else:
        following = (n or len(asks)) + 1
        _schedule_checkin(session=session, run=run, n=following, due_at=next_due, now=now)
        run.due_at = next_due
    write_concern(run, now, asks=asks)
    session.add(run)
    return run


def open_loops_and_tz(
    *, session: Session, team_id: str, user_slack_id: str
) -> tuple[list[RitualRun], str | None]:
    """The rep's open loops and their time zone (the list shows local dates)."""
    loops = open_loops(session=session, team_id=team_id, user_slack_id=user_slack_id)
    return loops, person_tz(session=session, team_id=team_id, slack_id=user_slack_id)


def modal_defaults(
    *, session: Session, team_id: str, user_slack_id: str, deal_id: int | None
) -> tuple[str, str | None]:
    """What the concern modal opens with: the deal's account (only a deal of this
    workspace) and the rep's time zone."""
    deal = get_deal(session=session, deal_id=deal_id) if deal_id else None
    account = deal.account if deal is not None and deal.team_id == team_id else ""
    return account, person_tz(session=session, team_id=team_id, slack_id=user_slack_id)
