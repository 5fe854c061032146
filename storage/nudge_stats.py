"""What `/metrics` reads about the nudge table at scrape time.

From the database, not from counters in memory: the dispatcher may run in another
process (or on another replica), and the table is the one place that knows them all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import Nudge
from storage.nudges import NudgeState


def counts_by_kind_and_state(*, session: Session) -> dict[tuple[str, str], int]:
    rows = session.exec(
        select(Nudge.kind, Nudge.state, func.count()).group_by(col(Nudge.kind), col(Nudge.state))
    ).all()
    return {(kind, state): int(n) for kind, state, n in rows}


def oldest_due_pending(*, session: Session, now: datetime) -> datetime | None:
    """When the longest-waiting due nudge fell due: the dispatcher's lag is `now` minus
    this (None when nothing due is waiting)."""
    # ORDER BY + LIMIT rather than MIN(): the (state, due_at) index answers it, and the
    # column keeps its type (a UTC datetime) on SQLite too.
    return session.exec(
        select(Nudge.due_at)
        .where(col(Nudge.state) == NudgeState.PENDING, col(Nudge.due_at) <= now)
        .order_by(col(Nudge.due_at))
        .limit(1)
    ).first()
