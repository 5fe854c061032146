"""What App Home shows someone, read in one transaction: their recent deals, open concern
loops and unfinished debriefs, and — for a manager — each rep's latest deal and record."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.concerns import open_loops
from storage.deals import recent_deals
from storage.debriefs import LOGGED
from storage.kinds import DEBRIEF_RITUALS, DealStatus
from storage.models import Deal, Person, RitualRun

OUTCOMES = ("won", "lost", "no_decision")


@dataclass(frozen=True)
class OpenDebrief:
    account: str
    outcome: str


@dataclass(frozen=True)
class RepRecord:
    """A manager's view of one rep: the latest deal (if any) and deal counts by outcome,
    never their notes."""

    rep: str
    last: Deal | None
    counts: dict[str, int]


@dataclass
class HomeData:
    deals: list[Deal] = field(default_factory=list)
    concerns: list[RitualRun] = field(default_factory=list)
    open_debriefs: list[OpenDebrief] = field(default_factory=list)
    team: list[RepRecord] = field(default_factory=list)


def outcome_counts(*, session: Session, team_id: str, rep: str) -> dict[str, int]:
    rows = session.exec(
        select(Deal.outcome, func.count())
        .where(Deal.team_id == team_id, Deal.rep_slack_id == rep)
        .group_by(col(Deal.outcome))
    ).all()
    found = {str(outcome): int(n) for outcome, n in rows}
    return {k: found.get(k, 0) for k in OUTCOMES}


def open_debriefs(*, session: Session, team_id: str, user_id: str) -> list[OpenDebrief]:
    rows = session.exec(
        select(RitualRun, Deal)
        .join(Deal, col(Deal.id) == col(RitualRun.deal_id))
        .where(
            RitualRun.team_id == team_id,
            RitualRun.user_slack_id == user_id,
            col(RitualRun.ritual).in_(DEBRIEF_RITUALS),
            RitualRun.state != LOGGED,
            Deal.status != DealStatus.WITHDRAWN,
        )
        .order_by(col(RitualRun.id).desc())
        .limit(10)
    ).all()
    return [OpenDebrief(deal.account, deal.outcome) for _run, deal in rows]


def home_data(*, session: Session, team_id: str, user_id: str) -> HomeData:
    data = HomeData(
        deals=recent_deals(session=session, team_id=team_id, rep_slack_id=user_id),
        concerns=open_loops(session=session, team_id=team_id, user_slack_id=user_id),
        open_debriefs=open_debriefs(session=session, team_id=team_id, user_id=user_id),
    )
    reps = session.exec(
        select(Person.slack_id).where(Person.team_id == team_id, Person.manager_slack_id == user_id)
    ).all()
    for rep in reps:
        last = recent_deals(session=session, team_id=team_id, rep_slack_id=rep, limit=1)
        counts = outcome_counts(session=session, team_id=team_id, rep=rep)
        data.team.append(RepRecord(rep, last[0] if last else None, counts))
    return data
