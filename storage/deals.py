"""Deals and the events that create them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import Deal, SeenEvent


@dataclass(frozen=True)
class NewDeal:
    team_id: str
    account: str
    outcome: str
    rep_slack_id: str | None
    source: str
    reported_by: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    source_channel: str | None = None
    source_ts: str | None = None
    external_id: str | None = None
    raw_text: str | None = None


def mark_event_seen(*, session: Session, team_id: str, event_id: str, now: datetime) -> bool:
    """True the first time an event_id is seen, False for a retry or redelivery."""
    if session.get(SeenEvent, (team_id, event_id)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(SeenEvent(team_id=team_id, event_id=event_id, received_at=now))
    except IntegrityError:
        return False
    return True


def add_deal(*, session: Session, new: NewDeal, now: datetime) -> Deal | None:
    """Insert a deal; None when the same source message or external id is already a deal."""
    if new.source_channel and new.source_ts:
        dup = session.exec(
            select(Deal).where(
                Deal.team_id == new.team_id,
                Deal.source_channel == new.source_channel,
                Deal.source_ts == new.source_ts,
            )
        ).first()
        if dup is not None:
            return None
    if new.external_id:
        dup = session.exec(
            select(Deal).where(Deal.team_id == new.team_id, Deal.external_id == new.external_id)
        ).first()
        if dup is not None:
            return None
    deal = Deal(
        team_id=new.team_id,
        account=new.account,
        outcome=new.outcome,
        amount=new.amount,
        currency=new.currency,
        rep_slack_id=new.rep_slack_id,
        reported_by=new.reported_by,
        source=new.source,
        source_channel=new.source_channel,
        source_ts=new.source_ts,
        external_id=new.external_id,
        raw_text=(new.raw_text or "")[:2000] or None,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(deal)
    except IntegrityError:
        return None  # a concurrent delivery of the same message won the race
    return deal


def get_deal(*, session: Session, deal_id: int) -> Deal | None:
    return session.get(Deal, deal_id)


def recent_deals(
    *, session: Session, team_id: str, rep_slack_id: str, limit: int = 10
) -> list[Deal]:
    return list(
        session.exec(
            select(Deal)
            .where(Deal.team_id == team_id, Deal.rep_slack_id == rep_slack_id)
            .order_by(col(Deal.created_at).desc(), col(Deal.id).desc())
            .limit(limit)
        ).all()
    )


def same_deal_since(
    *,
    session: Session,
    team_id: str,
    account: str,
    outcome: str,
    rep_slack_id: str,
    since: datetime,
) -> Deal | None:
    """The same account, outcome and rep logged again shortly after: a double submit,
    not a second deal."""
    return session.exec(
        select(Deal).where(
            Deal.team_id == team_id,
            func.lower(Deal.account) == account.lower(),
            Deal.outcome == outcome,
            Deal.rep_slack_id == rep_slack_id,
            col(Deal.created_at) >= since,
        )
    ).first()
