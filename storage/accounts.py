"""What we know about one client account, across rituals and reps.

Account names are typed by hand in several places (`/loop tee-up`, a deals channel, a
CRM post), so they match case-insensitively and without surrounding spaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.kinds import (
    DEBRIEF_RITUALS,
    TEEUP_DECIDED,
    CallState,
    ConcernState,
    DealStatus,
    DebriefState,
    Ritual,
)
from storage.models import Deal, RitualRun
from storage.people import get_person
from storage.run_data import tee_up_data


def same_account(column: Any, account: str) -> Any:
    return func.lower(column) == account.strip().lower()


def teeup_agreement(session: Session, team_id: str, account: str) -> RitualRun | None:
    """The tee-up run in which the client agreed to a debrief, if the latest answer the
    rep gave for this account is that they agreed (a later "declined" withdraws it)."""
    latest = session.exec(
        select(RitualRun)
        .where(
            RitualRun.team_id == team_id,
            RitualRun.ritual == Ritual.TEE_UP,
            col(RitualRun.state).in_(TEEUP_DECIDED),
            same_account(RitualRun.account, account),
        )
        .order_by(col(RitualRun.id).desc())
    ).first()
    if latest is not None and tee_up_data(latest).agreed:
        return latest
    return None


def last_debrief(*, session: Session, team_id: str, account: str) -> RitualRun | None:
    """The most recent win or loss debrief that the rep logged for this account."""
    return session.exec(
        select(RitualRun)
        .where(
            RitualRun.team_id == team_id,
            col(RitualRun.ritual).in_(DEBRIEF_RITUALS),
            RitualRun.state == DebriefState.LOGGED,
            same_account(RitualRun.account, account),
        )
        .order_by(col(RitualRun.updated_at).desc(), col(RitualRun.id).desc())
    ).first()


@dataclass(frozen=True)
class SeenDebrief:
    """A logged debrief, with what bot/access.py needs to decide who may read it."""

    run: RitualRun
    # The manager whose call on this deal the viewer was handed (the viewer, or None).
    call_manager: str | None


def recent_debriefs(
    *, session: Session, team_id: str, account: str, viewer: str, limit: int = 50
) -> list[SeenDebrief]:
    """The latest logged debriefs for this account, newest first; the caller keeps the
    ones `viewer` may read (their own, shared with the team, or a call they were handed)
    — the policy lives in bot/access.py, which storage does not import."""
    runs = session.exec(
        select(RitualRun)
        .where(
            RitualRun.team_id == team_id,
            col(RitualRun.ritual).in_(DEBRIEF_RITUALS),
            RitualRun.state == DebriefState.LOGGED,
            same_account(RitualRun.account, account),
        )
        .order_by(col(RitualRun.updated_at).desc(), col(RitualRun.id).desc())
        .limit(limit)
    ).all()
    called = _calls_handed_to(session, viewer, {r.deal_id for r in runs if r.deal_id is not None})
    return [
        SeenDebrief(run, viewer if run.deal_id in called and viewer != run.user_slack_id else None)
        for run in runs
    ]


def _calls_handed_to(session: Session, viewer: str, deal_ids: set[int]) -> set[int]:
    """The deals among these whose manager call `viewer` was asked to make (one query)."""
    if not deal_ids or not viewer:
        return set()
    found = session.exec(
        select(RitualRun.deal_id).where(
            col(RitualRun.deal_id).in_(deal_ids),
            RitualRun.ritual == Ritual.MANAGER_CALL,
            RitualRun.user_slack_id == viewer,
            RitualRun.state != CallState.DECLINED,
        )
    ).all()
    return {d for d in found if d is not None}


def last_deal(*, session: Session, team_id: str, account: str) -> Deal | None:
    return session.exec(
        select(Deal)
        .where(
            Deal.team_id == team_id,
            same_account(Deal.account, account),
            Deal.status != DealStatus.WITHDRAWN,
        )
        .order_by(col(Deal.created_at).desc(), col(Deal.id).desc())
    ).first()


def open_concerns(
    *, session: Session, team_id: str, account: str, limit: int = 10
) -> list[RitualRun]:
    return list(
        session.exec(
            select(RitualRun)
            .where(
                RitualRun.team_id == team_id,
                RitualRun.ritual == Ritual.CONCERN,
                RitualRun.state == ConcernState.OPEN,
                same_account(RitualRun.account, account),
            )
            .order_by(col(RitualRun.created_at), col(RitualRun.id))
            .limit(limit)
        ).all()
    )


@dataclass(frozen=True)
class AccountFacts:
    """What `/loop prep` shows about one account, as read for one person."""

    reader_tz: str | None
    deal: Deal | None
    debriefs: list[SeenDebrief] = field(default_factory=list)  # newest first, anyone's
    concerns: list[RitualRun] = field(default_factory=list)  # open, everyone's
    teed_up: bool = False


def account_facts(*, session: Session, team_id: str, user_id: str, account: str) -> AccountFacts:
    """A few indexed reads: quick enough to answer in a slash command's ack."""
    person = get_person(session=session, team_id=team_id, slack_id=user_id)
    return AccountFacts(
        reader_tz=person.tz if person else None,
        deal=last_deal(session=session, team_id=team_id, account=account),
        debriefs=recent_debriefs(session=session, team_id=team_id, account=account, viewer=user_id),
        concerns=open_concerns(session=session, team_id=team_id, account=account),
        teed_up=teeup_agreement(session, team_id, account) is not None,
    )
