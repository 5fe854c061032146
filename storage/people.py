"""People: reps, managers and admins, as Slack knows them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

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


def person_tz(*, session: Session, team_id: str, slack_id: str) -> str | None:
    """The person's Slack time zone, None when we never met them (or Slack gave none)."""
    person = get_person(session=session, team_id=team_id, slack_id=slack_id)
    return person.tz if person else None


def person_locale(*, session: Session, team_id: str, slack_id: str) -> str | None:
    person = get_person(session=session, team_id=team_id, slack_id=slack_id)
    return person.locale if person else None


def set_manager(*, session: Session, team_id: str, rep: str, manager: str | None) -> bool:
    """Name (or, with None, clear) a rep's manager; False when the rep has no row yet."""
    person = get_person(session=session, team_id=team_id, slack_id=rep)
    if person is None:
        return False
    person.manager_slack_id = manager
    session.add(person)
    return True


def team_pairs(*, session: Session, team_id: str) -> list[tuple[str, str]]:
    """(rep, manager) for every rep who has a manager, by name."""
    rows = session.exec(
        select(Person.slack_id, Person.manager_slack_id)
        .where(Person.team_id == team_id, col(Person.manager_slack_id).is_not(None))
        .order_by(col(Person.name), col(Person.slack_id))
    ).all()
    return [(str(rep), str(manager)) for rep, manager in rows]
