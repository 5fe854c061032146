"""Quiet settings: a person's pause, snooze and vacation, the workspace holiday list, and
releasing the nudges that waited while someone was quiet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


def pause(*, session: Session, team_id: str, slack_id: str, now: datetime) -> bool:
    """Pause someone's nudges; False when they were paused already."""
    row = person_row(session=session, team_id=team_id, slack_id=slack_id, now=now)
    if row.paused:
        return False
    row.paused = True
    session.add(row)
    return True


def snooze(
    *, session: Session, team_id: str, slack_id: str, until: datetime, now: datetime
) -> str | None:
    """Hold someone's nudges until `until`; returns their time zone (for the answer)."""
    row = person_row(session=session, team_id=team_id, slack_id=slack_id, now=now)
    row.snoozed_until = until
    session.add(row)
    return row.tz


def set_vacation(
    *,
    session: Session,
    team_id: str,
    slack_id: str,
    first: str | None,
    last: str | None,
    now: datetime,
) -> None:
    """Set (ISO dates) or, with None, clear someone's vacation."""
    row = person_row(session=session, team_id=team_id, slack_id=slack_id, now=now)
    row.vacation_start, row.vacation_end = first, last
    session.add(row)


def resume(
    *,
    session: Session,
    team_id: str,
    slack_id: str,
    now: datetime,
    on_vacation: Callable[[Person], bool],
) -> tuple[bool, int]:
    """End pause, snooze and a vacation under way (`on_vacation(row)` says whether it is,
    in the person's own zone); a vacation still to come stays. Returns whether they were
    quiet at all, and how many held-back nudges are now due."""
    row = person_row(session=session, team_id=team_id, slack_id=slack_id, now=now)
    quiet = row.paused or (row.snoozed_until is not None and row.snoozed_until > now)
    if on_vacation(row):
        row.vacation_start = row.vacation_end = None
        quiet = True
    row.paused = False
    row.snoozed_until = None
    session.add(row)
    released = release_waiting(session=session, team_id=team_id, user_slack_id=slack_id, now=now)
    return quiet, released


@dataclass(frozen=True)
class QuietRow:
    """What `/loop settings` shows, as stored."""

    paused: bool
    snoozed_until: datetime | None
    vacation_start: str | None
    vacation_end: str | None
    tz: str | None
    holidays: list[str]


def quiet_row(*, session: Session, team_id: str, slack_id: str, now: datetime) -> QuietRow:
    row = person_row(session=session, team_id=team_id, slack_id=slack_id, now=now)
    return QuietRow(
        paused=row.paused,
        snoozed_until=row.snoozed_until,
        vacation_start=row.vacation_start,
        vacation_end=row.vacation_end,
        tz=row.tz,
        holidays=workspace_holidays(session=session, team_id=team_id),
    )
