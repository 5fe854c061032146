"""What we know about one client account, across rituals and reps.

Account names are typed by hand in several places (`/loop tee-up`, a deals channel, a
CRM post), so they match case-insensitively and without surrounding spaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.access import may_read_debrief
from storage.models import Deal, RitualRun
from storage.people import get_person

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


@dataclass(frozen=True)
class AccountFacts:
    """What `/loop prep` shows about one account, as read for one person."""

    reader_tz: str | None
    deal: Deal | None
    debrief: RitualRun | None  # the latest one the reader may read
    concerns: list[RitualRun] = field(default_factory=list)  # open, everyone's
    teed_up: bool = False


def account_facts(*, session: Session, team_id: str, user_id: str, account: str) -> AccountFacts:
    """A few indexed reads: quick enough to answer in a slash command's ack."""
    person = get_person(session=session, team_id=team_id, slack_id=user_id)
    return AccountFacts(
        reader_tz=person.tz if person else None,
        deal=last_deal(session=session, team_id=team_id, account=account),
        debrief=last_visible_debrief(
            session=session, team_id=team_id, account=account, viewer=user_id
        ),
        concerns=open_concerns(session=session, team_id=team_id, account=account),
        teed_up=teeup_agreement(session, team_id, account) is not None,
    )
