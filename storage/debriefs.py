"""Debrief queries: the ritual runs behind win / loss debriefs and manager calls,
loss streaks, tee-up agreements, and the follow-up nudges a closed deal schedules.

Answer keys stay flat and readable because other rituals (`/loop prep`) read them:
loss: data["client"] = {reason, missed, needs, solution, gap, takeaways}, data["guess"];
win:  data["win"] = {why, appealed, almost, quote, quote_ok, strengths}.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage import nudges
from storage.models import Deal, Nudge, RitualRun

DEBRIEF_RITUALS = ("win_debrief", "loss_debrief")
LOGGED = "logged"
# Only "lost" counts towards a streak: a no-decision is nobody's win, and mixing it in
# would offer the manager call to reps whose clients simply stalled. Any other outcome
# (won, no decision) ends the streak.
STREAK_OUTCOMES = frozenset({"lost"})


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
        .where(RitualRun.deal_id == deal_id, RitualRun.ritual == "manager_call")
        .order_by(col(RitualRun.id).desc())
    ).first()


def update_data(run: RitualRun, now: datetime, **changes: Any) -> None:
    """A new dict each time: SQLAlchemy only sees a JSON column change on assignment."""
    run.data = {**run.data, **changes}
    run.updated_at = now


def loss_streak(*, session: Session, team_id: str, rep_slack_id: str, limit: int = 50) -> int:
    """How many of the rep's most recent deals in a row were lost."""
    outcomes = session.exec(
        select(Deal.outcome)
        # A withdrawn deal (not a deal after all) is no part of anyone's streak.
        .where(
            Deal.team_id == team_id,
            Deal.rep_slack_id == rep_slack_id,
            Deal.status != "withdrawn",
        )
        .order_by(col(Deal.created_at).desc(), col(Deal.id).desc())
        .limit(limit)
    ).all()
    count = 0
    for outcome in outcomes:
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
            RitualRun.ritual == "tee_up",
            func.lower(RitualRun.account) == account.strip().lower(),
        )
        .order_by(col(RitualRun.id).desc())
    ).all()
    return any(bool((run.data or {}).get("agreed")) for run in runs[:1])


def schedule_deal_followups(
    *,
    session: Session,
    deal: Deal,
    run: RitualRun,
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
        nudges.schedule(
            session=session,
            team_id=deal.team_id,
            user_slack_id=deal.rep_slack_id,
            kind="debrief_reminder",
            due_at=now + timedelta(days=reminder_days),
            idempotency_key=f"deal:{deal.id}:debrief-reminder{suffix}",
            payload={"deal_id": deal.id},
            ritual_run_id=run.id,
            now=now,
        )
    due_now: list[int] = []
    if deal.outcome in STREAK_OUTCOMES:
        session.flush()
        count = loss_streak(session=session, team_id=deal.team_id, rep_slack_id=deal.rep_slack_id)
        if count == loss_streak_at:
            offer = nudges.schedule(
                session=session,
                team_id=deal.team_id,
                user_slack_id=deal.rep_slack_id,
                kind="loss_streak_offer",
                due_at=now,
                idempotency_key=f"deal:{deal.id}:streak-offer{suffix}",
                payload={"deal_id": deal.id, "count": count},
                ritual_run_id=run.id,
                now=now,
            )
            if offer.id is not None:
                due_now.append(offer.id)
    return due_now


def nudges_for_deal(*, session: Session, deal_id: int) -> list[Nudge]:
    return list(
        session.exec(
            select(Nudge)
            .where(col(Nudge.idempotency_key).startswith(f"deal:{deal_id}:"))
            .order_by(col(Nudge.id))
        ).all()
    )
