"""Quiet settings: a person's pause, snooze and vacation, the workspace holiday list, and
releasing the nudges that waited while someone was quiet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from storage.models import Nudge, Person, Workspace
from storage.nudges import PENDING
from storage.people import ensure_workspace, get_person

# The reason delivery writes on a nudge it gives back because its person was quiet
# (bot/nudges/delivery.py `_hold_back`); resuming looks for exactly these.
WAITING_REASON = "waiting: person is quiet"


def person_row(*, session: Session, team_id: str, slack_id: str, now: datetime) -> Person:
    """The person's row, created bare if Slack never told us about them yet; the next
    profile refresh fills in the rest and keeps these settings."""
    person = get_person(session=session, team_id=team_id, slack_id=slack_id)
    if person is None:
        person = Person(team_id=team_id, slack_id=slack_id, created_at=now)
        session.add(person)
        session.flush()
    return person


def release_waiting(*, session: Session, team_id: str, user_slack_id: str, now: datetime) -> int:
    """Nudges held back while this person was quiet become due now (not lost, not late
    by another re-check interval)."""
    result = session.execute(
        update(Nudge)
        .where(
            col(Nudge.state) == PENDING,
            col(Nudge.team_id) == team_id,
            col(Nudge.user_slack_id) == user_slack_id,
            col(Nudge.last_error) == WAITING_REASON,
            col(Nudge.due_at) > now,
        )
        .values(due_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def workspace_holidays(*, session: Session, team_id: str) -> list[str]:
    ws = session.get(Workspace, team_id)
    return sorted(ws.holidays) if ws is not None else []


def set_holiday(*, session: Session, team_id: str, day: str, on: bool, now: datetime) -> bool:
    """Add or remove one ISO date; False when there was nothing to change."""
    ws = ensure_workspace(session=session, team_id=team_id, now=now)
    days = set(ws.holidays)
    if (day in days) == on:
        return False
    days = days | {day} if on else days - {day}
    # A new list, so SQLAlchemy sees the JSON column change.
    ws.holidays = sorted(days)
    session.add(ws)
    return True
