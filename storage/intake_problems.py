"""Deals that could not be taken in, kept for the admins' App Home until the same record
comes in again and works (then the problem is gone)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, bindparam, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.db import run_prepared
from storage.models import IntakeProblem


def record_problem(
    *, session: Session, team_id: str, key: str, source: str, detail: str, now: datetime
) -> None:
    """One row per record: a CRM retrying the same bad webhook bumps its count."""
    key = key[:200]
    row = session.exec(
        select(IntakeProblem).where(IntakeProblem.team_id == team_id, IntakeProblem.key == key)
    ).first()
    if row is None:
        row = IntakeProblem(
            team_id=team_id, key=key, source=source, detail=detail[:500], first_at=now, last_at=now
        )
        try:
            with session.begin_nested():
                session.add(row)
            return
        except IntegrityError:  # a concurrent retry of the same record won
            row = session.exec(
                select(IntakeProblem).where(
                    IntakeProblem.team_id == team_id, IntakeProblem.key == key
                )
            ).one()
    row.count += 1
    row.detail = detail[:500]
    row.last_at = now
    session.add(row)


_PROBLEMS: Table = IntakeProblem.__table__  # type: ignore[attr-defined]
_CLEAR = delete(_PROBLEMS).where(
    _PROBLEMS.c.team_id == bindparam("team_id"), _PROBLEMS.c.key == bindparam("key")
)


_ANY = select(_PROBLEMS.c.id).where(_PROBLEMS.c.team_id == bindparam("team_id")).limit(1)


def clear_problem(*, session: Session, team_id: str, key: str) -> None:
    """The record came in after all: its problem is solved. One statement, built once."""
    run_prepared(session, _CLEAR, {"team_id": team_id, "key": key[:200]})


def has_problems(*, session: Session, team_id: str) -> bool:
    """Whether the workspace has any problem kept: almost never, so a burst of CRM
    deliveries asks this once rather than deleting nothing once per delivery."""
    return run_prepared(session, _ANY, {"team_id": team_id}).fetchone() is not None


def recent_problems(*, session: Session, team_id: str, limit: int = 10) -> list[IntakeProblem]:
    return list(
        session.exec(
            select(IntakeProblem)
            .where(IntakeProblem.team_id == team_id)
            .order_by(col(IntakeProblem.last_at).desc(), col(IntakeProblem.id).desc())
            .limit(limit)
        ).all()
    )
