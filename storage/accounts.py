"""What we know about one client account, across rituals and reps.

Account names are typed by hand in several places (`/loop tee-up`, a deals channel, a
CRM post), so they match case-insensitively and without surrounding spaces.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.access import may_read_debrief
from storage.models import Deal, RitualRun

DEBRIEF_RITUALS = ("loss_debrief", "win_debrief")
TEEUP_DECIDED = ("agreed", "declined", "not_asked")


def same_account(column: Any, account: str) -> Any:
    return func.lower(column) == account.strip().lower()


def teeup_agreement(session: Session, team_id: str, account: str) -> RitualRun | None:
    """The tee-up run in which the client agreed to a debrief, if the latest answer the
    rep gave for this account is that they agreed (a later "declined" withdraws it)."""
    latest = session.exec(
        select(RitualRun)
        .where(
            RitualRun.team_id == team_id,
            RitualRun.ritual == "tee_up",
            col(RitualRun.state).in_(TEEUP_DECIDED),
            same_account(RitualRun.account, account),
        )
        .order_by(col(RitualRun.id).desc())
    ).first()
    if latest is not None and (latest.data or {}).get("agreed"):
        return latest
    return None


def last_debrief(*, session: Session, team_id: str, account: str) -> RitualRun | None:
    """The most recent win or loss debrief that the rep logged for this account."""
    return session.exec(
        select(RitualRun)
        .where(
            RitualRun.team_id == team_id,
            col(RitualRun.ritual).in_(DEBRIEF_RITUALS),
            RitualRun.state == "logged",
            same_account(RitualRun.account, account),
        )
        .order_by(col(RitualRun.updated_at).desc(), col(RitualRun.id).desc())
    ).first()


def last_visible_debrief(
    *, session: Session, team_id: str, account: str, viewer: str, limit: int = 50
) -> RitualRun | None:
    """The most recent logged debrief for this account that `viewer` may read: their own,
    one a rep shared with the team, or one whose manager call they were handed."""
    runs = session.exec(
        select(RitualRun)
        .where(
            RitualRun.team_id == team_id,
            col(RitualRun.ritual).in_(DEBRIEF_RITUALS),
            RitualRun.state == "logged",
            same_account(RitualRun.account, account),
        )
        .order_by(col(RitualRun.updated_at).desc(), col(RitualRun.id).desc())
        .limit(limit)
    ).all()
    for run in runs:
        call = None
        if run.deal_id is not None and viewer != run.user_slack_id:
            call = session.exec(
                select(RitualRun).where(
                    RitualRun.deal_id == run.deal_id,
                    RitualRun.ritual == "manager_call",
                    RitualRun.user_slack_id == viewer,
                    RitualRun.state != "declined",
                )
            ).first()
        if may_read_debrief(
            viewer,
            owner=run.user_slack_id,
            shared=bool((run.data or {}).get("shared")),
            call_manager=call.user_slack_id if call is not None else None,
        ):
            return run
    return None


def last_deal(*, session: Session, team_id: str, account: str) -> Deal | None:
    return session.exec(
        select(Deal)
        .where(
            Deal.team_id == team_id,
            same_account(Deal.account, account),
            Deal.status != "withdrawn",
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
                RitualRun.ritual == "concern",
                RitualRun.state == "open",
                same_account(RitualRun.account, account),
            )
            .order_by(col(RitualRun.created_at), col(RitualRun.id))
            .limit(limit)
        ).all()
    )
