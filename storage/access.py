"""The lookups bot/access.py's policy needs: who owns a row, who has which role.

The shapes those lookups answer in (`Kind`, `Owners`) and the one reading rule a query
applies row by row (`may_read_debrief`) live here, so storage depends on nothing above
it; bot/access.py, the policy, re-exports them and stays the one place to read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, delete, exists
from sqlmodel import Session, col, select

from storage.debriefs import debrief_run, manager_call_run
from storage.models import Deal, DealAsk, Nudge, Person, Reflection, RitualRun, RoleGrant

ADMIN = "admin"
REP = "rep"
REFLECTIONS = "reflections"
DECLINED = "declined"

# What a button's value / a modal's private_metadata points at.
Kind = Literal["deal", "concern", "screen_out", "nudge", "deal_ask", "self"]


@dataclass(frozen=True)
class Owners:
    """Who a row belongs to, as the database says."""

    owner: str | None
    call_manager: str | None = None  # who a rep asked to call: manager or colleague


def may_read_debrief(
    viewer: str, *, owner: str | None, shared: bool, call_manager: str | None
) -> bool:
    """A rep's guess, logged debrief and win answers are theirs. Their manager sees it when
    the rep asked them to call; everyone on the team when the rep shared the lesson."""
    return bool(viewer) and (viewer == owner or viewer == call_manager or shared)


def owners_of(*, session: Session, team_id: str, kind: Kind, row_id: int) -> Owners | None:
    """None when there is no such row in this workspace (the listener then says so)."""
    if kind == "deal":
        deal = session.get(Deal, row_id)
        if deal is None or deal.id is None or (team_id and deal.team_id != team_id):
            return None
        owner = deal.rep_slack_id
        if not owner:
            run = debrief_run(session=session, deal_id=deal.id)
            owner = run.user_slack_id if run is not None else None
        call = manager_call_run(session=session, deal_id=deal.id)
        manager = call.user_slack_id if call is not None and call.state != DECLINED else None
        return Owners(owner, manager)
    if kind in ("concern", "screen_out"):
        run = session.get(RitualRun, row_id)
        if run is None or run.ritual != kind or (team_id and run.team_id != team_id):
            return None
        return Owners(run.user_slack_id)
    if kind == "nudge":
        nudge = session.get(Nudge, row_id)
        if nudge is None or (team_id and nudge.team_id != team_id):
            return None
        return Owners(nudge.user_slack_id)
    if kind == "deal_ask":
        ask = session.get(DealAsk, row_id)
        if ask is None or (team_id and ask.team_id != team_id):
            return None
        return Owners(ask.user_slack_id)
    return Owners(None)


@dataclass(frozen=True)
class ActorFacts:
    """What the owner check needs from the database about one request, read at once."""

    slack_admin: bool  # Slack says admin or owner (as last stored)
    admin_grant: bool  # named with `/loop team admin`
    owners: Owners | None  # None: no such row (or no row asked about)


def actor_facts(
    *,
    session: Session,
    team_id: str,
    actor: str,
    kind: Kind,
    row_id: int | None,
    need_admin: bool,
) -> ActorFacts:
    slack_admin = granted = False
    if need_admin:
        person = session.exec(
            select(Person).where(Person.team_id == team_id, Person.slack_id == actor)
        ).first()
        slack_admin = bool(person and person.is_admin)
        granted = has_grant(session=session, team_id=team_id, slack_id=actor, role=ADMIN)
    owners = (
        owners_of(session=session, team_id=team_id, kind=kind, row_id=row_id)
        if row_id is not None
        else None
    )
    return ActorFacts(slack_admin, granted, owners)


def has_grant(*, session: Session, team_id: str, slack_id: str, role: str) -> bool:
    return (
        session.exec(
            select(RoleGrant.id).where(
                RoleGrant.team_id == team_id, RoleGrant.slack_id == slack_id, RoleGrant.role == role
            )
        ).first()
        is not None
    )


def grant(
    *, session: Session, team_id: str, slack_id: str, role: str, by: str | None, now: datetime
) -> bool:
    """Give a role; False when they had it already."""
    if has_grant(session=session, team_id=team_id, slack_id=slack_id, role=role):
        return False
    session.add(
        RoleGrant(team_id=team_id, slack_id=slack_id, role=role, granted_by=by, created_at=now)
    )
    session.flush()
    return True


def revoke(*, session: Session, team_id: str, slack_id: str, role: str) -> None:
    session.execute(
        delete(RoleGrant).where(
            col(RoleGrant.team_id) == team_id,
            col(RoleGrant.slack_id) == slack_id,
            col(RoleGrant.role) == role,
        )
    )


def has_deal(*, session: Session, team_id: str, slack_id: str) -> bool:
    return (
        session.exec(
            select(Deal.id).where(Deal.team_id == team_id, Deal.rep_slack_id == slack_id).limit(1)
        ).first()
        is not None
    )


def reports_of(*, session: Session, team_id: str, manager: str) -> list[str]:
    return list(
        session.exec(
            select(Person.slack_id).where(
                Person.team_id == team_id, Person.manager_slack_id == manager
            )
        ).all()
    )


def rep_clause() -> ColumnElement[bool]:
    """SQL for "this Person row is a rep or opted into reflections", for the planner:
    has a deal, has a manager, holds the rep or reflections role, or has reflected."""
    deal = exists().where(
        col(Deal.team_id) == col(Person.team_id), col(Deal.rep_slack_id) == col(Person.slack_id)
    )
    granted = exists().where(
        col(RoleGrant.team_id) == col(Person.team_id),
        col(RoleGrant.slack_id) == col(Person.slack_id),
        col(RoleGrant.role).in_((REP, REFLECTIONS)),
    )
    # Someone who wrote a reflection with `/loop reflect` has opted in by doing so.
    reflected = exists().where(
        col(Reflection.team_id) == col(Person.team_id),
        col(Reflection.user_slack_id) == col(Person.slack_id),
    )
    return deal | col(Person.manager_slack_id).is_not(None) | granted | reflected
