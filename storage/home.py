"""What App Home shows someone, read in one transaction: their recent deals, open concern
loops, unfinished debriefs and their own recent stories, and — for a manager — each
rep's latest deal and record (deal counts, stories shared lately)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.concerns import open_loops
from storage.deals import recent_deals
from storage.debriefs import LOGGED, OPEN, call_data, loss_streak, manager_call_run
from storage.kinds import DEBRIEF_RITUALS, REASON_CATEGORIES, DealStatus, Ritual
from storage.models import Deal, Person, RitualRun
from storage.stories import MonthStory, recent_stories, story_counts

OUTCOMES = ("won", "lost", "no_decision")
# The manager's team table counts the stories of the last 30 days (`/loop report month`).
STORIES_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class OpenDebrief:
    account: str
    outcome: str
    caller: str | None = None  # who the rep asked to make the call, while it is open


@dataclass(frozen=True)
class CallToMake:
    """A call someone asked this person to make and that is still open."""

    deal_id: int
    account: str
    outcome: str
    rep: str
    asked_at: datetime | None


@dataclass(frozen=True)
class RepRecord:
    """A manager's view of one rep: the latest deal (if any), deal counts by outcome and
    the stories they shared in the last 30 days, never their notes."""

    rep: str
    last: Deal | None
    counts: dict[str, int]
    stories: int = 0
    pending: int = 0  # their debriefs not logged yet
    streak: int = 0  # lost deals in a row, the latest first


@dataclass
class HomeData:
    deals: list[Deal] = field(default_factory=list)
    concerns: list[RitualRun] = field(default_factory=list)
    open_debriefs: list[OpenDebrief] = field(default_factory=list)
    team: list[RepRecord] = field(default_factory=list)
    calls: list[CallToMake] = field(default_factory=list)
    stories: list[MonthStory] = field(default_factory=list)  # their own, newest first


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
    out = []
    for _run, deal in rows:
        call = manager_call_run(session=session, deal_id=int(deal.id or 0))
        caller = call.user_slack_id if call is not None and call.state == OPEN else None
        out.append(OpenDebrief(deal.account, deal.outcome, caller))
    return out


def calls_to_make(*, session: Session, team_id: str, user_id: str) -> list[CallToMake]:
    """The open calls reps asked this person (their manager or a colleague) to make."""
    rows = session.exec(
        select(RitualRun, Deal)
        .join(Deal, col(Deal.id) == col(RitualRun.deal_id))
        .where(
            RitualRun.team_id == team_id,
            RitualRun.user_slack_id == user_id,
            RitualRun.ritual == Ritual.MANAGER_CALL,
            RitualRun.state == OPEN,
            Deal.status != DealStatus.WITHDRAWN,
        )
        .order_by(col(RitualRun.id))
        .limit(10)
    ).all()
    return [
        CallToMake(
            int(deal.id or 0),
            deal.account,
            deal.outcome,
            str(call_data(run).rep or deal.rep_slack_id or ""),
            run.created_at,
        )
        for run, deal in rows
    ]


def home_data(*, session: Session, team_id: str, user_id: str, now: datetime) -> HomeData:
    data = HomeData(
        deals=recent_deals(session=session, team_id=team_id, rep_slack_id=user_id),
        concerns=open_loops(session=session, team_id=team_id, user_slack_id=user_id),
        open_debriefs=open_debriefs(session=session, team_id=team_id, user_id=user_id),
        calls=calls_to_make(session=session, team_id=team_id, user_id=user_id),
        stories=recent_stories(session=session, team_id=team_id, rep=user_id),
    )
    reps = session.exec(
        select(Person.slack_id).where(Person.team_id == team_id, Person.manager_slack_id == user_id)
    ).all()
    told = story_counts(session=session, team_id=team_id, reps=reps, since=now - STORIES_WINDOW)
    for rep in reps:
        last = recent_deals(session=session, team_id=team_id, rep_slack_id=rep, limit=1)
        counts = outcome_counts(session=session, team_id=team_id, rep=rep)
        pending = len(open_debriefs(session=session, team_id=team_id, user_id=rep))
        streak = loss_streak(session=session, team_id=team_id, rep_slack_id=rep)
        data.team.append(
            RepRecord(rep, last[0] if last else None, counts, told.get(rep, 0), pending, streak)
        )
    return data


@dataclass(frozen=True)
class GuessVsReason:
    """A rep's own guesses against their clients' reasons, by kind of reason: the latest
    logged debriefs with both (account, guess, reason), and over all of them how many
    were compared and agreed. `losses`: whether they have a loss debrief at all."""

    rows: list[tuple[str, str, str]]
    compared: int
    agreed: int
    losses: bool


def guess_vs_reason(
    *, session: Session, team_id: str, user_id: str, limit: int = 5
) -> GuessVsReason:
    """Only ever the asker's own debriefs: App Home shows this section to the rep alone."""
    statement = (
        select(RitualRun.state, RitualRun.data, Deal.account)
        .join(Deal, col(Deal.id) == col(RitualRun.deal_id))
        .where(
            RitualRun.team_id == team_id,
            RitualRun.user_slack_id == user_id,
            RitualRun.ritual == Ritual.LOSS_DEBRIEF,
            Deal.status != DealStatus.WITHDRAWN,
        )
        .order_by(col(RitualRun.updated_at).desc(), col(RitualRun.id).desc())
    )
    rows: list[tuple[str, str, str]] = []
    compared = agreed = 0
    losses = False
    for state, data, account in session.exec(statement):
        losses = True
        if state != LOGGED:
            continue
        guess = (data or {}).get("guess_category")
        reason = ((data or {}).get("client") or {}).get("reason_category")
        if guess not in REASON_CATEGORIES or reason not in REASON_CATEGORIES:
            continue
        compared += 1
        agreed += int(guess == reason)
        if len(rows) < limit:
            rows.append((account, guess, reason))
    return GuessVsReason(rows, compared, agreed, losses)
