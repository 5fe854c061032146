"""People: reps, managers and admins, as Slack knows them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from storage.models import Person, Workspace

PROFILE_TTL = timedelta(hours=12)


def get_person(*, session: Session, team_id: str, slack_id: str) -> Person | None:
    return session.exec(
        select(Person).where(Person.team_id == team_id, Person.slack_id == slack_id)
    ).first()


def is_fresh(person: Person | None, now: datetime) -> bool:
    return bool(person and person.refreshed_at and now - person.refreshed_at < PROFILE_TTL)


def upsert_from_slack(
    *, session: Session, team_id: str, user: dict[str, Any], now: datetime
) -> Person:
    """Store what `users.info` said; a changed tz takes effect from the next slot
    because schedules read the row when they compute the next one."""
    slack_id = str(user["id"])
    person = get_person(session=session, team_id=team_id, slack_id=slack_id)
    if person is None:
        person = Person(team_id=team_id, slack_id=slack_id, created_at=now)
    profile = user.get("profile") or {}
    person.name = (
        profile.get("display_name") or user.get("real_name") or user.get("name") or slack_id
    )
    person.email = profile.get("email") or person.email
    person.tz = user.get("tz") or person.tz
    person.locale = user.get("locale") or person.locale
    person.is_admin = bool(user.get("is_admin") or user.get("is_owner"))
    person.is_bot = bool(user.get("is_bot"))
    person.deleted = bool(user.get("deleted"))
    person.refreshed_at = now
    if person.id is not None:
        session.add(person)
        session.flush()
        return person
    try:
        # Two workers meeting a new person at once both insert; the loser re-reads.
        with session.begin_nested():
            session.add(person)
    except IntegrityError:
        existing = get_person(session=session, team_id=team_id, slack_id=slack_id)
        assert existing is not None
        return upsert_from_slack(session=session, team_id=team_id, user=user, now=now)
    return person


def ensure_workspace(*, session: Session, team_id: str, now: datetime) -> Workspace:
    ws = session.get(Workspace, team_id)
    if ws is None:
        ws = Workspace(team_id=team_id, created_at=now)
        session.add(ws)
        session.flush()
    return ws
